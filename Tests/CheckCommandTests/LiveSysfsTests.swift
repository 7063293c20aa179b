import Foundation
import Testing
@testable import vfio_warden

/// Issue 13 items 2 and 3: which roots are the host's, where a tree's state goes, and how a live sysfs is told from a
/// static tree (the mount that holds the path, from mountinfo).
@Suite struct LiveSysfsTests {
    static let mountinfo = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        24 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
        25 22 0:23 / /tmp rw shared:2 - tmpfs tmpfs rw
        26 25 0:24 / /tmp/with\\040space rw shared:3 - sysfs sysfs rw
        27 23 0:25 / /sys/kernel/debug rw shared:9 - debugfs debugfs rw
        """

    @Test(arguments: [
        ("/sys", "sysfs"), ("/sys/bus/pci/devices/0000:03:01.0", "sysfs"), ("/sysx/tree", "ext4"),
        ("/tmp/vfio-warden-cli-1/sys", "tmpfs"), ("/tmp/with space/bus", "sysfs"), ("/sys/kernel/debug/x", "debugfs"),
        ("/home/user/snapshot", "ext4"),
    ])
    func theMountThatHoldsAPathGivesItsType(path: String, type: String) {
        #expect(LiveSysfs.fileSystemType(of: path, mountinfo: Self.mountinfo) == type)
    }

    /// Read only: where this machine (or the rig's guest) has sysfs mounted at /sys, it is told as live.
    @Test(.enabled(if: (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))?.contains(" /sys rw") == true
                   && (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))?.contains(" - sysfs ") == true))
    func theMachinesSysIsALiveSysfs() {
        #expect(LiveSysfs.isSysfs("/sys"))
        #expect(LiveSysfs.isSysfs("/sys/bus/pci"))
    }

    @Test func aWrittenTreeIsNotALiveSysfs() throws {
        #expect(!LiveSysfs.isSysfs("/tmp"))
        #expect(!LiveSysfs.isSysfs("/nonexistent/sys"))
    }

    @Test(arguments: [
        ("/tmp/d/sys", "/tmp/d/var/lib/vfio-warden", "/tmp/d/var/lib/vfio-warden/journal", "/tmp/d/run/vfio-warden"),
        ("/tmp/d/snap.tar.gz", "/tmp/d/var/lib/vfio-warden", "/tmp/d/var/lib/vfio-warden/journal", "/tmp/d/run/vfio-warden"),
        ("sys", "./var/lib/vfio-warden", "./var/lib/vfio-warden/journal", "./run/vfio-warden"),
        ("/sys", "/var/lib/vfio-warden", "/var/lib/vfio-warden/journal", "/run/vfio-warden"),
        ("/sys/", "/var/lib/vfio-warden", "/var/lib/vfio-warden/journal", "/run/vfio-warden"),
    ])
    func stateGoesBesideATreeAndToTheHostOnlyForSys(root: String, state: String, journal: String, run: String) {
        #expect(StateLocations.stateDirectory(for: root) == state)
        #expect(StateLocations.journalDirectory(for: root) == journal)
        #expect(StateLocations.runDirectory(for: root) == run)
    }

    @Test func aTreeNeverGetsTheMachinesProc() {
        let proc = StateLocations.proc(given: nil, sysfsRoot: "/nonexistent/d/sys")
        #expect(proc.path == "/nonexistent/d/proc")
        #expect(proc.warning?.contains("--proc-root") == true)
        #expect(StateLocations.proc(given: nil, sysfsRoot: "/sys").path == "/proc")
        #expect(StateLocations.proc(given: "/x/proc", sysfsRoot: "/nonexistent/d/sys").path == "/x/proc")
    }
}
