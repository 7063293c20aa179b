#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SimulatedKernel
import Sysfs

/// The working directory of one simulation: `sys/` (the simulated kernel's tree, a copy of what was given so
/// the original is never changed), `proc/` (for host-use analysis), `dev/`, `journal/` and `state/`.
public struct SimulationHost: Sendable {
    public let directory: String
    public var sys: SysfsRoot { SysfsRoot(directory + "/sys") }
    public var proc: SysfsRoot
    public var dev: String { directory + "/dev" }
    public var journal: String
    public var state: String { directory + "/state" }

    /// Lays out `directory`: the built-in q35 host, or a copy of `sysfs`; a small `proc` in which the q35 host's
    /// disk `sda` is mounted at `/`, unless `proc` is given.
    public static func prepare(in directory: String, sysfs: SysfsRoot?, proc: SysfsRoot?, journal: String?) throws -> SimulationHost {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = SimulationHost(directory: directory, proc: proc ?? SysfsRoot(directory + "/proc"), journal: journal ?? directory + "/journal")
        if let sysfs {
            var copy = SysfsSnapshot(from: sysfs, to: host.sys)
            try copy.write()
        } else {
            try ExampleHosts.build(ExampleHosts.q35, at: host.sys)
        }
        if proc == nil { try writeExampleProc(at: directory + "/proc") }
        return host
    }

    /// Writes the q35 example host's `/proc` files at `directory`: its disk `sda` (behind the AHCI controller
    /// 0000:00:1f.2) mounted at `/`, no swap, no routes. `example-tree --with-proc` writes it beside the tree.
    public static func writeExampleProc(at directory: String) throws {
        let files = [
            "self/mountinfo": "22 1 8:0 / / rw,relatime shared:1 - ext4 /dev/sda rw\n",
            "swaps": "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
            "net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
            "net/ipv6_route": "",
            "net/if_inet6": "",
            "net/fib_trie": "",
        ]
        for (name, content) in files {
            let path = "\(directory)/\(name)"
            try FileManager.default.createDirectory(atPath: String(path[..<path.lastIndex(of: "/")!]), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: Data(content.utf8)) else {
                throw SysfsError(operation: "create", path: path, errno: .permissionDenied)
            }
        }
    }
}
