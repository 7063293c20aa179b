import ArgumentParser
import Enforcement
import Sysfs

/// What `assign` and `plan assign` take: the devices, the owner, what the other members get, the format.
struct AssignArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("PCI addresses (03:01.0 or 0000:03:01.0).", valueName: "address"))
    var addresses: [String]
    @Option(help: ArgumentHelp("Who the group is for (a VM name, a pod): 1 to \(OwnerName.maximumBytes) bytes of printable characters, no control characters, not blank."))
    var owner: String
    @Option(name: .customLong("quarantine"), help: ArgumentHelp(
        "What the members you did not name get: passthrough (vfio-pci, the default), none (driver_override=none, no driver) or pci-stub."))
    var siblings: Planner.SiblingMode = .passthrough
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        _ = try parseAddresses(addresses)
        do { _ = try OwnerName(owner) } catch { throw ValidationError("--owner: \(error)") }
    }

    var devices: [PCIAddress] { get throws { try parseAddresses(addresses) } }
}

/// What `release` and `plan release` take: assigned devices or an owner, and the format.
struct ReleaseArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("PCI addresses of assigned devices.", valueName: "address"))
    var addresses: [String] = []
    @Option(help: "Release everything this owner holds.") var owner: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        _ = try parseAddresses(addresses)
        if owner == nil && addresses.isEmpty { throw ValidationError("give ADDRESS... or --owner NAME") }
        if let owner {
            do { _ = try OwnerName(owner) } catch { throw ValidationError("--owner: \(error)") }
        }
    }

    var devices: [PCIAddress] { get throws { try parseAddresses(addresses) } }
}
