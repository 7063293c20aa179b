import Sysfs

/// An IOMMU group: the smallest set of functions the IOMMU can isolate from the rest of the system.
/// Either all of them are isolated from the host, or none may be given to a guest.
public struct IOMMUGroup: Sendable, Hashable, Codable {
    /// The kernel's number for it, valid until the next boot only.
    public var number: Int
    /// Members in address order.
    public var members: [PCIAddress]

    public init(number: Int, members: [PCIAddress]) {
        self.number = number
        self.members = members
    }
}

/// Whether a group could be handed to VFIO as it stands, and why not.
///
/// Mirrors the kernel's rule (`vfio_group_viable`, and since 5.19 `driver_managed_dma`): every endpoint is on a
/// vfio driver, `pci-stub` or no driver; bridges may also stay on `pcieport`.
public struct GroupViability: Sendable, Hashable, Codable {
    public var viable: Bool
    /// One sentence per member that stands in the way, naming it and its driver.
    public var reasons: [String]

    public init(viable: Bool, reasons: [String]) {
        self.viable = viable
        self.reasons = reasons
    }

    /// Drivers that leave a function isolated from the host.
    public static func isIsolatingDriver(_ driver: String) -> Bool {
        driver.hasPrefix("vfio") || driver == "pci-stub"
    }

    /// Whether `device` as it stands keeps its group viable. A device whose `driver` link could not be read
    /// does not: nothing proves it is isolated.
    public static func keepsGroupViable(_ device: PCIDevice) -> Bool {
        if device.problems.contains(where: { $0.attribute == "driver" }) { return false }
        guard let driver = device.driver else { return true }
        if isIsolatingDriver(driver) { return true }
        return device.isBridge && driver == "pcieport"
    }

    /// The viability of a group whose members are `devices`.
    public static func of(_ devices: [PCIDevice]) -> GroupViability {
        var reasons: [String] = []
        for device in devices where !keepsGroupViable(device) {
            let role = device.isBridge ? "bridge" : "endpoint"
            if let driver = device.driver {
                reasons.append("\(device.address) (\(role)) is bound to host driver \(driver)")
            } else {
                reasons.append("\(device.address) (\(role)) has a driver link that cannot be read, so its isolation is unknown")
            }
        }
        return GroupViability(viable: reasons.isEmpty, reasons: reasons)
    }
}
