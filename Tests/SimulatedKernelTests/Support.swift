#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SimulatedKernel
import SystemPackage
import Sysfs
import Topology

/// A simulated kernel over a fresh q35 tree in its own temporary directory (`BASE/sys` plays `/sys`,
/// `BASE/dev` plays `/dev`), removed by ``cleanUp()``. Tests never touch the machine's real `/sys`.
final class Fixture {
    let base: String
    let kernel: SimulatedKernel

    init(_ specs: [DeviceSpec] = ExampleHosts.q35) throws {
        base = FileManager.default.temporaryDirectory.path + "/vfio-warden-simkernel-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: base + "/sys", withIntermediateDirectories: true)
        let tree = try ExampleHosts.build(specs, at: SysfsRoot(base + "/sys"))
        kernel = SimulatedKernel(tree: tree, devDirectory: base + "/dev")
    }

    var root: SysfsRoot { kernel.root }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: base)
    }

    /// The bound driver, `nil` when none is.
    func driver(_ address: PCIAddress) -> String? {
        (try? root.linkName(PCIPaths.attribute(.driver, of: address))) ?? nil
    }

    /// What `driver_override` reads.
    func override(_ address: PCIAddress) -> String? {
        try? root.read(PCIPaths.attribute(.driverOverride, of: address))
    }

    func isPresent(_ address: PCIAddress) -> Bool {
        root.existsWithoutFollowing(PCIPaths.device(address))
    }

    /// The errno a write fails with, `nil` when it succeeds.
    func writeErrno(_ value: String, to path: String) -> Errno? {
        do {
            try kernel.write(value, to: path)
            return nil
        } catch {
            return error.errno
        }
    }

    /// The errno `openGroup` fails with, `nil` when it succeeds (the group then stays open).
    func openGroupErrno(_ group: Int) -> Errno? {
        do {
            _ = try kernel.openGroup(group)
            return nil
        } catch {
            return error.errno
        }
    }

    /// The events emitted since the last call, as `ACTION ADDRESS [DRIVER=name]`.
    func takeEvents() -> [String] {
        summary(kernel.takeEmittedEvents())
    }
}

func summary(_ events: [DeviceEvent]) -> [String] {
    events.map { event in "\(event.action.rawValue) \(event.address)" + (event.driver.map { " DRIVER=\($0)" } ?? "") }
}

/// The q35 example host's functions (see ``ExampleHosts/q35``).
enum Q35 {
    static let hostBridge = PCIAddress.literal("0000:00:00.0")
    static let rootPort1 = PCIAddress.literal("0000:00:1c.0")
    static let e1000e = PCIAddress.literal("0000:01:00.0")
    static let rootPort2 = PCIAddress.literal("0000:00:1c.1")
    static let nvme = PCIAddress.literal("0000:02:00.0")
    static let vf1 = PCIAddress.literal("0000:02:00.1")
    static let vf2 = PCIAddress.literal("0000:02:00.2")
    static let pciBridge = PCIAddress.literal("0000:00:02.0")
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let virtio = PCIAddress.literal("0000:03:02.0")
    static let ahci = PCIAddress.literal("0000:00:1f.2")
}

/// `bus/pci/devices/ADDRESS/ATTRIBUTE`.
func attribute(_ attribute: PCIAttribute, _ address: PCIAddress) -> String {
    PCIPaths.attribute(attribute, of: address)
}

/// `bus/pci/drivers/DRIVER/FILE`.
func driverFile(_ driver: String, _ file: String) -> String {
    "\(PCIPaths.driver(driver))/\(file)"
}
