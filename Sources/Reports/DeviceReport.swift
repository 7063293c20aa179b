import Sysfs
import Topology

/// One device as `list --json` and `show --json` print it. The keys are part of the interface: scripts depend on them.
public struct DeviceReport: Encodable, Sendable, Equatable {
    public var device: PCIDevice

    public init(_ device: PCIDevice) { self.device = device }

    enum CodingKeys: String, CodingKey {
        case address, vendor, device, subsystemVendor = "subsystem_vendor", subsystemDevice = "subsystem_device"
        case `class`, className = "class_name", driver, driverOverride = "driver_override", iommuGroup = "iommu_group"
        case parent, physfn, virtfns, sriov, bridge, problems
    }

    enum SRIOVKeys: String, CodingKey {
        case totalVFs = "total_vfs", numVFs = "num_vfs", driversAutoprobe = "drivers_autoprobe"
    }

    /// Every key is always present; unknown values are `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(device.address, forKey: .address)
        try container.encode(device.vendorID.map { hex($0, width: 4) }, forKey: .vendor)
        try container.encode(device.deviceID.map { hex($0, width: 4) }, forKey: .device)
        try container.encode(device.subsystemVendorID.map { hex($0, width: 4) }, forKey: .subsystemVendor)
        try container.encode(device.subsystemDeviceID.map { hex($0, width: 4) }, forKey: .subsystemDevice)
        try container.encode(device.classCode.map { hex($0, width: 6) }, forKey: .class)
        try container.encode(device.className, forKey: .className)
        try container.encode(device.driver, forKey: .driver)
        try container.encode(device.driverOverride, forKey: .driverOverride)
        try container.encode(device.iommuGroup, forKey: .iommuGroup)
        try container.encode(device.parent, forKey: .parent)
        try container.encode(device.physfn, forKey: .physfn)
        try container.encode(device.virtfns, forKey: .virtfns)
        if let sriov = device.sriov {
            var nested = container.nestedContainer(keyedBy: SRIOVKeys.self, forKey: .sriov)
            try nested.encode(sriov.totalVFs, forKey: .totalVFs)
            try nested.encode(sriov.numVFs, forKey: .numVFs)
            try nested.encode(sriov.driversAutoprobe, forKey: .driversAutoprobe)
        } else {
            try container.encodeNil(forKey: .sriov)
        }
        try container.encode(device.isBridge, forKey: .bridge)
        try container.encode(device.problems, forKey: .problems)
    }

    /// What the device is in its group, in words: `bridge`, `endpoint`, `PF (2/4 VFs)`, `VF of 0000:02:00.0`.
    public var role: String {
        if device.isBridge { return "bridge" }
        if let pf = device.physfn { return "VF of \(pf)" }
        if let sriov = device.sriov { return "PF (\(sriov.numVFs)/\(sriov.totalVFs) VFs)" }
        return "endpoint"
    }
}

/// A group with its members and viability, as `list --json` prints it.
public struct GroupReport: Encodable, Sendable, Equatable {
    public var number: Int
    public var viability: GroupViability
    public var devices: [DeviceReport]

    public init(number: Int, graph: TopologyGraph) {
        self.number = number
        self.viability = graph.viability(ofGroup: number)
        self.devices = graph.members(ofGroup: number).map(DeviceReport.init)
    }

    enum CodingKeys: String, CodingKey { case group, viable, reasons, devices }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(number, forKey: .group)
        try container.encode(viability.viable, forKey: .viable)
        try container.encode(viability.reasons, forKey: .reasons)
        try container.encode(devices, forKey: .devices)
    }
}
