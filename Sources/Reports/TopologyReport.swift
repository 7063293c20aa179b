import Sysfs
import Topology

/// The whole graph as `list` prints it: groups in number order, then devices with no group, then tree problems.
public struct TopologyReport: Encodable, Sendable, Equatable {
    public var groups: [GroupReport]
    public var ungrouped: [DeviceReport]
    public var problems: [String]

    public init(_ graph: TopologyGraph) {
        groups = graph.sortedGroups.map { GroupReport(number: $0.number, graph: graph) }
        ungrouped = graph.ungroupedDevices.map(DeviceReport.init)
        problems = graph.problems
    }
}

/// One device and its whole group, as `show` prints it.
public struct DeviceDetailReport: Encodable, Sendable, Equatable {
    public var device: DeviceReport
    /// `nil` when the device has no IOMMU group.
    public var group: GroupReport?

    public init(_ address: PCIAddress, in graph: TopologyGraph) throws(UnknownDeviceError) {
        guard let device = graph.devices[address] else { throw UnknownDeviceError(address: address) }
        self.device = DeviceReport(device)
        self.group = device.iommuGroup.map { GroupReport(number: $0, graph: graph) }
    }

    enum CodingKeys: String, CodingKey { case device, group }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(device, forKey: .device)
        try container.encode(group, forKey: .group)
    }
}

/// `show` was given an address that is not under `bus/pci/devices`.
public struct UnknownDeviceError: Error, Sendable, CustomStringConvertible {
    public var address: PCIAddress
    public var description: String { "no PCI device \(address) under \(PCIPaths.devices)" }
}
