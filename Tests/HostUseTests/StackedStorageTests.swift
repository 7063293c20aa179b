#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SimulatedKernel
import Sysfs
import Testing
import Topology

/// A fake exclusive-open probe: answers from a table and records what it was asked. Never opens anything.
final class FakeExclusiveOpen: BlockDeviceProbe, @unchecked Sendable {
    let answers: [String: ExclusiveOpenResult]
    private(set) var asked: [String] = []

    init(_ answers: [String: ExclusiveOpenResult]) {
        self.answers = answers
    }

    func exclusiveOpen(name: String, majorMinor: String) -> ExclusiveOpenResult {
        asked.append("\(name) \(majorMinor)")
        return answers[name] ?? .free
    }
}

@Suite("Host use of disks that leave no holders: ZFS, btrfs, udev's member signatures, exclusive opens")
struct StackedStorageTests {
    static let pveRoot = """
        21 1 0:20 / /proc rw,nosuid - proc proc rw
        25 1 0:25 / / rw,relatime shared:1 - zfs rpool/ROOT/pve-1 rw,xattr,noacl
        26 25 0:26 / /rpool rw,relatime shared:2 - zfs rpool rw,xattr,noacl
        """

    @Test("A ZFS pool member (Proxmox's root): datasets mount on 0:NN, the vdev has no holders; udev names the pool")
    func zfsPoolMember() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda3", of: "sda", dev: "8:3")
            try host.writeProc("self/mountinfo", Self.pveRoot)
            try host.writeUdev("8:3", [("ID_FS_TYPE", "zfs_member"), ("ID_FS_LABEL", "rpool"), ("ID_FS_UUID", "1234")])
            let reasons = try host.analysis().verdict(for: .ahci).reasons
            #expect(reasons.map(\.kind) == [.blockMember])
            #expect(reasons.first?.message
                == "sda3 is a member of ZFS pool rpool (udev: ID_FS_TYPE=zfs_member), which backs / (rpool/ROOT/pve-1), /rpool (rpool)")
            #expect(reasons.first?.sources == ["run/udev/data/b8:3", "proc/self/mountinfo"])
        }
    }

    @Test("A ZFS member of a pool with nothing mounted still counts: the host may import it")
    func zfsPoolNotMounted() throws {
        try HostFixture.withQ35 { host in
            try host.writeUdev("8:0", [("ID_FS_TYPE", "zfs_member"), ("ID_FS_LABEL", "tank")])
            let reasons = try host.analysis().verdict(for: .ahci).reasons
            #expect(reasons.map(\.message) == ["sda is a member of ZFS pool tank (udev: ID_FS_TYPE=zfs_member), which the host may import"])
        }
    }

    @Test("ZFS mounted, no udev database and no /dev to probe: every disk's use is unknown, so in use")
    func zfsWithoutUdevDatabase() throws {
        try HostFixture.withQ35 { host in
            try host.writeProc("self/mountinfo", Self.pveRoot)
            let reasons = try host.analysis().verdict(for: .ahci).reasons
            #expect(reasons.map(\.kind) == [.blockUnknown])
            #expect(reasons.first?.message.contains("a ZFS filesystem is mounted (rpool/ROOT/pve-1 at /)") == true)
        }
    }

    @Test("udev's member signatures: md, LVM, LUKS on a partition with no holder yet", arguments: [
        ("linux_raid_member", "host:0", "sda1 is a member of md RAID array host:0 (udev: ID_FS_TYPE=linux_raid_member), which the host assembles or opens"),
        ("LVM2_member", "", "sda1 is an LVM physical volume (UUID u-1) (udev: ID_FS_TYPE=LVM2_member), which the host assembles or opens"),
        ("crypto_LUKS", "", "sda1 is a LUKS encrypted volume (UUID u-1) (udev: ID_FS_TYPE=crypto_LUKS), which the host assembles or opens"),
    ])
    func memberSignatures(type: String, label: String, message: String) throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.writeUdev("8:1", [("ID_FS_TYPE", type), ("ID_FS_UUID", "u-1")] + (label.isEmpty ? [] : [("ID_FS_LABEL", label)]))
            let reasons = try host.analysis().verdict(for: .ahci).reasons
            #expect(reasons.map(\.message) == [message])
            #expect(reasons.map(\.kind) == [.blockMember])
        }
    }

    @Test("A plain filesystem signature that is not mounted is no host use")
    func unmountedExt4IsFree() throws {
        try HostFixture.withQ35 { host in
            try host.writeUdev("8:0", [("ID_FS_TYPE", "ext4"), ("ID_FS_LABEL", "scratch")])
            #expect(try host.analysis().verdict(for: .ahci).safe)
        }
    }

    @Test("A two-device btrfs: mountinfo names only sda (on 0:31); the NVMe device beside it is found in fs/btrfs")
    func btrfsTwoDevices() throws {
        try HostFixture.withQ35 { host in
            let nvme = PCIAddress.literal("0000:02:00.0")
            try host.tree.addDisk("nvme0n1", on: nvme, dev: "259:0", under: "nvme/nvme0")
            try host.tree.addBtrfsFilesystem(uuid: "5d1f0c2e-0000-4000-8000-000000000001", label: "data", devices: ["sda", "nvme0n1"])
            try host.writeProc("self/mountinfo", "40 1 0:31 / /data rw,relatime - btrfs /dev/sda rw,space_cache=v2\n")
            let analysis = try host.analysis()
            let message = "is a device of btrfs filesystem 5d1f0c2e-0000-4000-8000-000000000001 (label data) with 2 devices (nvme0n1, sda), which backs /data (mounted from /dev/sda)"
            #expect(analysis.verdict(for: nvme).reasons.map(\.message) == ["nvme0n1 " + message])
            #expect(analysis.verdict(for: nvme).reasons.first?.kind == .blockMember)
            #expect(analysis.verdict(for: .ahci).reasons.map(\.message) == ["backs /data (mounted btrfs filesystem on sda, 8:0)", "sda " + message])
            // The root port above the NVMe is upstream of it.
            #expect(analysis.verdict(for: .literal("0000:00:1c.1")).reasons.map(\.kind) == [.upstream])
        }
    }

    @Test("A disk nothing else explains but that refuses an exclusive open is held by the kernel; explained disks are not probed")
    func exclusiveOpenHeld() throws {
        try HostFixture.withQ35 { host in
            let nvme = PCIAddress.literal("0000:02:00.0")
            try host.tree.addDisk("nvme0n1", on: nvme, dev: "259:0", under: "nvme/nvme0")
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.writeProc("self/mountinfo", "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
            let probe = FakeExclusiveOpen(["nvme0n1": .held])
            let analysis = try host.analysis(probe: probe)
            #expect(analysis.verdict(for: nvme).reasons.map(\.kind) == [.heldExclusively])
            #expect(analysis.verdict(for: nvme).reasons.first?.message.hasPrefix("carries disk nvme0n1 (259:0), which refuses an exclusive open (EBUSY)") == true)
            #expect(probe.asked == ["nvme0n1 259:0"])
        }
    }

    @Test("A free exclusive open is no host use; an unknown one is a problem, not a verdict")
    func exclusiveOpenFreeOrUnknown() throws {
        try HostFixture.withQ35 { host in
            let probe = FakeExclusiveOpen(["sda": .unknown("no block device node 8:0 under /x")])
            let analysis = try host.analysis(probe: probe)
            #expect(analysis.verdict(for: .ahci).safe)
            #expect(analysis.problems.contains("exclusive open of sda: no block device node 8:0 under /x"))
        }
    }

    @Test("Only the running host's /sys and /proc get /run and the /dev probe; a tree or a snapshot never does")
    func inferredSources() {
        let tree = HostUseSources.inferred(sysfs: SysfsRoot("/tmp/tree/sys"), proc: SysfsRoot("/tmp/tree/proc"))
        #expect(tree.run == nil)
        #expect(tree.exclusiveOpen == nil)
        let mixed = HostUseSources.inferred(sysfs: SysfsRoot("/tmp/tree/sys"), proc: SysfsRoot("/proc"))
        #expect(mixed.exclusiveOpen == nil)
        let host = HostUseSources.inferred(sysfs: SysfsRoot("/sys"), proc: SysfsRoot("/proc"))
        #expect(host.run?.path == "/run")
        #expect((host.exclusiveOpen as? ExclusiveOpenProbe)?.dev == "/dev")
    }

    @Test("The real probe opens only a block device node with the disk's own major:minor (a file in its place is refused)")
    func realProbeRefusesNonBlockNodes() throws {
        let dev = FileManager.default.temporaryDirectory.path + "/vfio-warden-dev-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dev + "/block", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dev) }
        try Data().write(to: URL(fileURLWithPath: dev + "/block/8:0"))
        try Data().write(to: URL(fileURLWithPath: dev + "/sda"))
        let result = ExclusiveOpenProbe(dev: dev).exclusiveOpen(name: "sda", majorMinor: "8:0")
        #expect(result == .unknown("sda: no block device node 8:0 under \(dev)"))
        #expect(ExclusiveOpenProbe(dev: dev).exclusiveOpen(name: "sda", majorMinor: "sda") == .unknown("sda: dev \"sda\" is not MAJOR:MINOR"))
    }
}

@Suite("Stacked layouts resolved through holders: dm-multipath, loop over a file")
struct HolderLayoutTests {
    @Test("dm-multipath over two paths on two controllers: both controllers back the mount")
    func dmMultipath() throws {
        try HostFixture.withQ35 { host in
            let nvme = PCIAddress.literal("0000:02:00.0")
            try host.tree.addDisk("sdb", on: nvme, dev: "8:16", under: "host1/target1:0:0/1:0:0:0")
            try host.addHolder("dm-4", dev: "253:4", holding: "sda", dmName: "mpatha", dmUUID: "mpath-3600a0b80")
            let second = try host.realDirectory("block/sdb")
            try host.tree.symlink("\(second)/holders/dm-4", to: "devices/virtual/block/dm-4")
            try host.writeProc("self/mountinfo", "60 1 253:4 / /srv rw - xfs /dev/mapper/mpatha rw\n")
            let analysis = try host.analysis()
            for device in [PCIAddress.ahci, nvme] {
                #expect(analysis.verdict(for: device).reasons.map(\.kind) == [.blockHolder, .mountedFilesystem])
                #expect(analysis.verdict(for: device).reasons.last?.message.hasPrefix("backs /srv (mounted xfs filesystem on dm-4 (mpatha), 253:4") == true)
            }
        }
    }

    @Test("A loop device over a file: the file's own filesystem names the disk; loop0 itself is no PCI device")
    func loopOverFile() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.tree.makeDirectory("devices/virtual/block/loop0/loop")
            try host.tree.writeFile("devices/virtual/block/loop0/dev", "7:0\n")
            try host.tree.writeFile("devices/virtual/block/loop0/loop/backing_file", "/srv/images/disk.img\n")
            try host.tree.symlink("block/loop0", to: "devices/virtual/block/loop0")
            try host.writeProc("self/mountinfo", """
                25 1 8:1 / /srv rw - ext4 /dev/sda1 rw
                61 1 7:0 / /mnt/image rw - ext4 /dev/loop0 rw
                """)
            let analysis = try host.analysis()
            #expect(analysis.verdict(for: .ahci).reasons.map(\.message) == ["backs /srv (mounted ext4 filesystem on sda1, 8:1)"])
            #expect(analysis.problems.isEmpty)
        }
    }
}
