import Sysfs

/// One sysfs write the executor makes, with what must be true when it is done.
public struct PlanStep: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Action: Sendable, Hashable, Codable {
        /// Write `driver` to `driver_override` (`nil`: clear it with an empty write).
        case setDriverOverride(String?)
        /// Write the address to `bus/pci/drivers/DRIVER/unbind`.
        case unbind(from: String)
        /// Write the address to `bus/pci/drivers_probe`, then expect the `driver` link to name `expect` (`nil`: no driver).
        case probe(expect: String?)
        /// Write the address to `bus/pci/drivers/DRIVER/bind`.
        case bind(to: String)
        /// Write 0 or 1 to a PF's `sriov_drivers_autoprobe`.
        case setDriversAutoprobe(Bool)
        /// Write a count to a PF's `sriov_numvfs`.
        case setNumVFs(Int)
    }

    public var address: PCIAddress
    public var action: Action

    public init(_ address: PCIAddress, _ action: Action) {
        self.address = address
        self.action = action
    }

    /// The attribute written, relative to the sysfs root.
    public var attributePath: String {
        switch action {
        case .setDriverOverride: return PCIPaths.attribute(.driverOverride, of: address)
        case .unbind(let driver): return "\(PCIPaths.driver(driver))/unbind"
        case .probe: return PCIPaths.driversProbe
        case .bind(let driver): return "\(PCIPaths.driver(driver))/bind"
        case .setDriversAutoprobe: return PCIPaths.attribute(.sriovDriversAutoprobe, of: address)
        case .setNumVFs: return PCIPaths.attribute(.sriovNumVFs, of: address)
        }
    }

    /// The text written (`vfio-pci`, an address, an empty line to clear `driver_override`).
    public var value: String {
        switch action {
        case .setDriverOverride(let driver): return driver.map { "\($0)\n" } ?? "\n"
        case .unbind, .probe, .bind: return "\(address)\n"
        case .setDriversAutoprobe(let on): return on ? "1\n" : "0\n"
        case .setNumVFs(let count): return "\(count)\n"
        }
    }

    public var description: String {
        switch action {
        case .setDriverOverride(let driver?): return "\(address): set driver_override to \(driver)"
        case .setDriverOverride(nil): return "\(address): clear driver_override"
        case .unbind(let driver): return "\(address): unbind from \(driver)"
        case .probe(let expect?): return "\(address): probe drivers, expect \(expect)"
        case .probe(nil): return "\(address): probe drivers, expect no driver"
        case .bind(let driver): return "\(address): bind to \(driver)"
        case .setDriversAutoprobe(let on): return "\(address): set sriov_drivers_autoprobe to \(on ? 1 : 0)"
        case .setNumVFs(let count): return "\(address): set sriov_numvfs to \(count)"
        }
    }
}
