#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SimulatedKernel
import Sysfs
import Topology

/// The q35 example host in a temporary directory (`sys/`) with a fake `proc/` beside it, removed afterwards.
/// Tests never read the machine's real /sys or /proc.
struct HostFixture {
    let base: String
    let tree: SysfsTree
    var sysfs: SysfsRoot { tree.root }
    let proc: SysfsRoot
    /// Plays `/run` (udev's database under `udev/data`).
    var run: SysfsRoot { SysfsRoot(base + "/run") }

    static func withQ35<T>(_ body: (HostFixture) throws -> T) throws -> T {
        let base = FileManager.default.temporaryDirectory.path + "/vfio-warden-hostuse-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: base + "/proc/self", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/proc/net", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let tree = try ExampleHosts.build(ExampleHosts.q35, at: SysfsRoot(base + "/sys"))
        let fixture = HostFixture(base: base, tree: tree, proc: SysfsRoot(base + "/proc"))
        // An idle host: nothing mounted from PCI disks, no swap, no addresses or routes.
        try fixture.writeProc("self/mountinfo", "21 1 0:20 / /proc rw,nosuid - proc proc rw\n")
        try fixture.writeProc("swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        for file in ["net/route", "net/ipv6_route", "net/if_inet6", "net/fib_trie"] {
            try fixture.writeProc(file, file == "net/route" ? "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" : "")
        }
        return try body(fixture)
    }

    func writeProc(_ relative: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: proc.absolute(relative)))
    }

    func removeProc(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: proc.absolute(relative))
    }

    /// A partition `block/DISK/PART` with `dev` and an empty `holders/`.
    func addPartition(_ name: String, of disk: String, dev: String) throws {
        try tree.makeDirectory("block/\(disk)/\(name)/holders")
        try tree.writeFile("block/\(disk)/\(name)/dev", "\(dev)\n")
        try tree.writeFile("block/\(disk)/\(name)/partition", "1\n")
    }

    /// A virtual block device (`devices/virtual/block/NAME`, linked from `block/NAME`) holding `held`.
    func addHolder(_ name: String, dev: String, holding held: String, dmName: String? = nil, dmUUID: String? = nil, mdLevel: String? = nil) throws {
        let directory = "devices/virtual/block/\(name)"
        try tree.makeDirectory("\(directory)/holders")
        try tree.writeFile("\(directory)/dev", "\(dev)\n")
        if let dmName { try tree.makeDirectory("\(directory)/dm"); try tree.writeFile("\(directory)/dm/name", "\(dmName)\n") }
        if let dmUUID { try tree.writeFile("\(directory)/dm/uuid", "\(dmUUID)\n") }
        if let mdLevel { try tree.makeDirectory("\(directory)/md"); try tree.writeFile("\(directory)/md/level", "\(mdLevel)\n") }
        try tree.symlink("block/\(name)", to: directory)
        // block/sda/sda2/holders/dm-0 → the holder's directory (the link sits inside the partition's real directory).
        let heldDirectory = try realDirectory("block/\(held)")
        try tree.symlink("\(heldDirectory)/holders/\(name)", to: directory)
    }

    /// The directory a path under the root resolves to, relative to the root.
    func realDirectory(_ relative: String) throws -> String {
        let resolved = URL(fileURLWithPath: sysfs.absolute(relative)).resolvingSymlinksInPath().path
        let root = URL(fileURLWithPath: sysfs.path).resolvingSymlinksInPath().path
        return String(resolved.dropFirst(root.count + 1))
    }

    func analyse() throws -> (HostUseAnalysis, TopologyGraph) {
        let graph = try TopologyGraph.scan(root: sysfs)
        return (HostUseAnalysis.analyse(graph: graph, sysfs: sysfs, proc: proc), graph)
    }

    /// The analysis with this fixture's `run/` (udev's database) and, when given, a fake exclusive-open probe:
    /// never the machine's /dev.
    func analysis(probe: (any BlockDeviceProbe)? = nil, options: HostUseOptions = HostUseOptions()) throws -> HostUseAnalysis {
        let graph = try TopologyGraph.scan(root: sysfs)
        return HostUseAnalysis.analyse(graph: graph, sources: HostUseSources(sysfs: sysfs, proc: proc, run: run, exclusiveOpen: probe),
                                       options: options)
    }

    func writeUdev(_ majorMinor: String, _ properties: [(String, String)]) throws {
        try SysfsTree.writeUdevEntry(properties, majorMinor: majorMinor, under: run)
    }

    /// A symbolic link under the fake proc (`self/ns/mnt` → `mnt:[4026531840]`): its target need not exist.
    func linkProc(_ relative: String, to target: String) throws {
        let path = proc.absolute(relative)
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }
}

extension PCIAddress {
    static let ahci = PCIAddress.literal("0000:00:1f.2")
    static let virtioNet = PCIAddress.literal("0000:03:02.0")
    static let e1000e = PCIAddress.literal("0000:01:00.0")
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let vga = PCIAddress.literal("0000:00:01.0")
    static let pciBridge = PCIAddress.literal("0000:00:02.0")
    static let rootPort = PCIAddress.literal("0000:00:1c.0")
}
