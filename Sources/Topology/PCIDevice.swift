import Sysfs

/// One PCI function as sysfs shows it at one moment: ids, class, driver, override, group, SR-IOV links.
///
/// A value: reading it again after an event and comparing tells what changed.
public struct PCIDevice: Sendable, Hashable, Codable {
    public var address: PCIAddress
    /// `vendor`, `device`, `subsystem_vendor`, `subsystem_device`: 16-bit ids, `nil` when unreadable.
    public var vendorID: UInt16?
    public var deviceID: UInt16?
    public var subsystemVendorID: UInt16?
    public var subsystemDeviceID: UInt16?
    /// `class`: base class, subclass and programming interface (`0x010601` is an AHCI SATA controller).
    public var classCode: UInt32?
    /// The bound driver (last component of the `driver` link), `nil` when none is bound.
    public var driver: String?
    /// `driver_override`, `nil` when the kernel shows `(null)`.
    public var driverOverride: String?
    /// The IOMMU group number (last component of the `iommu_group` link), `nil` with no IOMMU.
    /// Group numbers change across reboots: never persist them.
    public var iommuGroup: Int?
    /// The upstream bridge this function sits behind, from its path under `devices/`; `nil` on a root bus.
    public var parent: PCIAddress?
    /// On a VF: its PF (`physfn` link).
    public var physfn: PCIAddress?
    /// On a PF: its VFs in `virtfnN` order.
    public var virtfns: [PCIAddress]
    /// On an SR-IOV capable PF: `sriov_totalvfs`, `sriov_numvfs`, `sriov_drivers_autoprobe`.
    public var sriov: SRIOVState?
    /// What could not be read or made sense of; the rest of the device is still filled in.
    public var problems: [DeviceProblem]

    public init(
        address: PCIAddress, vendorID: UInt16? = nil, deviceID: UInt16? = nil,
        subsystemVendorID: UInt16? = nil, subsystemDeviceID: UInt16? = nil, classCode: UInt32? = nil,
        driver: String? = nil, driverOverride: String? = nil, iommuGroup: Int? = nil, parent: PCIAddress? = nil,
        physfn: PCIAddress? = nil, virtfns: [PCIAddress] = [], sriov: SRIOVState? = nil, problems: [DeviceProblem] = []
    ) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.subsystemVendorID = subsystemVendorID
        self.subsystemDeviceID = subsystemDeviceID
        self.classCode = classCode
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.parent = parent
        self.physfn = physfn
        self.virtfns = virtfns
        self.sriov = sriov
        self.problems = problems
    }

    /// A PCI-to-PCI bridge (class 06:04 or 06:09): it forwards DMA and may stay on `pcieport` in an isolated group.
    public var isBridge: Bool {
        guard let classCode else { return false }
        let baseSub = classCode >> 8
        return baseSub == 0x0604 || baseSub == 0x0609
    }

    /// `vendor:device` as `lspci -n` prints it (`8086:100e`), `nil` when either is unknown.
    public var ids: String? {
        guard let vendorID, let deviceID else { return nil }
        return "\(hex(vendorID, width: 4)):\(hex(deviceID, width: 4))"
    }

    /// A short name of the class ("Ethernet controller"), from ``PCIClassNames``.
    public var className: String? { classCode.map(PCIClassNames.name(of:)) }

    /// Why the device may not be assigned because its `iommu_group` link could not be read: the graph keeps it in
    /// the group it was last seen in, but that group's membership is unsure. What the planner refuses and `check`
    /// reports, in the same words; `nil` when the link was read.
    public var unsureGroupReason: String? {
        problems.first { $0.attribute == PCIAttribute.iommuGroup.rawValue }.map {
            "its iommu_group link cannot be read (\($0.message)); the group's membership is unsure, so it is not assigned"
        }
    }
}

/// The SR-IOV attributes of a physical function.
public struct SRIOVState: Sendable, Hashable, Codable {
    public var totalVFs: Int
    public var numVFs: Int
    /// `sriov_drivers_autoprobe`: whether host drivers probe new VFs at once.
    public var driversAutoprobe: Bool?

    public init(totalVFs: Int, numVFs: Int, driversAutoprobe: Bool?) {
        self.totalVFs = totalVFs
        self.numVFs = numVFs
        self.driversAutoprobe = driversAutoprobe
    }
}

/// An attribute of a device that was missing, unreadable or garbled.
public struct DeviceProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The sysfs file (`vendor`, `driver`, `iommu_group`).
    public var attribute: String
    public var message: String

    public init(attribute: String, message: String) {
        self.attribute = attribute
        self.message = message
    }

    public var description: String { "\(attribute): \(message)" }
}
