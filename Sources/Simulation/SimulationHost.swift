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
        if proc == nil {
            let files = [
                "self/mountinfo": "22 1 8:0 / / rw,relatime shared:1 - ext4 /dev/sda rw\n",
                "swaps": "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
                "net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
                "net/ipv6_route": "",
                "net/if_inet6": "",
            ]
            for (name, content) in files {
                let path = "\(directory)/proc/\(name)"
                try FileManager.default.createDirectory(atPath: String(path[..<path.lastIndex(of: "/")!]), withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: path, contents: Data(content.utf8))
            }
        }
        return host
    }
}
