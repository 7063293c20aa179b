#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs
import Testing
import Topology

/// The sysfs layout the real 6.1 kernel made in the rig's guest (`Tests/VM/scenarios/hostuse` prints it as
/// `@@LAYOUT` lines: `D path`, `L path target`, `F path content`), replayed into a temporary tree.
struct RigLayout {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Recreates every directory, link (target as the kernel wrote it) and `dev` file of `file` under `root`.
    static func replay(_ file: String, into root: SysfsRoot) throws {
        let text = try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8)
        let manager = FileManager.default
        for line in text.split(separator: "\n") where line.hasPrefix("@@LAYOUT ") {
            let fields = line.dropFirst("@@LAYOUT ".count).split(separator: " ", maxSplits: 2).map(String.init)
            guard fields.count >= 2, fields[1].hasPrefix("/sys/") else { continue }
            let path = root.absolute(String(fields[1].dropFirst("/sys/".count)))
            let parent = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
            switch fields[0] {
            case "D": try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
            case "L" where fields.count == 3:
                if (try? manager.destinationOfSymbolicLink(atPath: path)) == nil {
                    try manager.createSymbolicLink(atPath: path, withDestinationPath: fields[2])
                }
            case "F" where fields.count == 3: try Data((fields[2] + "\n").utf8).write(to: URL(fileURLWithPath: path))
            default: continue
            }
        }
    }
}

@Suite("The real kernel's NVMe subsystem layout, replayed")
struct RigLayoutTests {
    @Test("The rig's nvme-subsys namespace (6.1): a mount on nvme0n1 (259:1) resolves to the PF 02:00.0 and its root port")
    func rigLayoutReplayed() throws {
        let base = FileManager.default.temporaryDirectory.path + "/vfio-warden-riglayout-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let sysfs = SysfsRoot(base + "/sys"), proc = SysfsRoot(base + "/proc")
        try RigLayout.replay("rig-nvme-subsystem-6.1.layout", into: sysfs)
        try FileManager.default.createDirectory(atPath: proc.absolute("self"), withIntermediateDirectories: true)
        try Data("30 1 259:1 / /mnt/var rw,relatime - ext2 /dev/nvme0n1 rw\n".utf8)
            .write(to: URL(fileURLWithPath: proc.absolute("self/mountinfo")))
        try Data("Filename Type Size Used Priority\n".utf8).write(to: URL(fileURLWithPath: proc.absolute("swaps")))
        // The head is under the subsystem node, with no PCI address in its path.
        let head = URL(fileURLWithPath: sysfs.absolute("block/nvme0n1")).resolvingSymlinksInPath().path
        #expect(head.contains("/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1"))
        let analysis = HostUseAnalysis.analyse(graph: TopologyGraph(), sysfs: sysfs, proc: proc)
        let pf = PCIAddress.literal("0000:02:00.0")
        #expect(analysis.verdict(for: pf).reasons.map(\.kind) == [.mountedFilesystem])
        #expect(analysis.verdict(for: pf).reasons.first?.message.hasPrefix("backs /mnt/var (mounted ext2 filesystem on nvme0n1, 259:1) [nvme0n1 is a namespace of NVMe subsystem nvme-subsys0") == true)
        #expect(analysis.verdict(for: .literal("0000:00:03.0")).reasons.map(\.kind) == [.upstream])
    }
}
