import Sysfs

/// What one event (or a rescan) changed in the graph, device by device.
public struct GraphChange: Sendable, Hashable, Codable {
    public var devices: [DeviceChange]
    /// Groups whose viability differs from before, with before and after.
    public var groups: [GroupChange]

    public init(devices: [DeviceChange] = [], groups: [GroupChange] = []) {
        self.devices = devices
        self.groups = groups
    }

    public var isEmpty: Bool { devices.isEmpty && groups.isEmpty }
}

/// One device appeared, disappeared or had fields change.
public struct DeviceChange: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable { case added, removed, changed }
    public var address: PCIAddress
    public var kind: Kind
    /// Field name (as in `--json` output) with old and new value as text (`-` for none).
    public var fields: [FieldChange]

    public init(address: PCIAddress, kind: Kind, fields: [FieldChange]) {
        self.address = address
        self.kind = kind
        self.fields = fields
    }
}

public struct FieldChange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var field: String
    public var old: String?
    public var new: String?

    public init(field: String, old: String?, new: String?) {
        self.field = field
        self.old = old
        self.new = new
    }

    public var description: String { "\(field) \(old ?? "-") → \(new ?? "-")" }
}

/// A group appeared, vanished, or changed members or viability.
public struct GroupChange: Sendable, Hashable, Codable {
    public var group: Int
    public var before: GroupSummary?
    public var after: GroupSummary?

    public init(group: Int, before: GroupSummary?, after: GroupSummary?) {
        self.group = group
        self.before = before
        self.after = after
    }
}

public struct GroupSummary: Sendable, Hashable, Codable {
    public var members: [PCIAddress]
    public var viable: Bool

    public init(members: [PCIAddress], viable: Bool) {
        self.members = members
        self.viable = viable
    }
}

extension DeviceChange {
    /// The field-by-field difference between two readings of the same device.
    public static func between(_ old: PCIDevice?, _ new: PCIDevice?) -> DeviceChange? {
        switch (old, new) {
        case (nil, nil): return nil
        case (nil, let added?): return DeviceChange(address: added.address, kind: .added, fields: fieldList(added).map {
            FieldChange(field: $0.0, old: nil, new: $0.1) }.filter { $0.new != nil })
        case (let removed?, nil): return DeviceChange(address: removed.address, kind: .removed, fields: fieldList(removed).map {
            FieldChange(field: $0.0, old: $0.1, new: nil) }.filter { $0.old != nil })
        case (let before?, let after?):
            guard before != after else { return nil }
            let fields = zip(fieldList(before), fieldList(after)).compactMap { pair -> FieldChange? in
                pair.0.1 == pair.1.1 ? nil : FieldChange(field: pair.0.0, old: pair.0.1, new: pair.1.1)
            }
            return DeviceChange(address: after.address, kind: .changed, fields: fields)
        }
    }

    /// Every field of a device as text, in a fixed order; the names match the `--json` keys.
    static func fieldList(_ device: PCIDevice) -> [(String, String?)] {
        [
            ("vendor", device.vendorID.map { hex($0, width: 4) }),
            ("device", device.deviceID.map { hex($0, width: 4) }),
            ("subsystem_vendor", device.subsystemVendorID.map { hex($0, width: 4) }),
            ("subsystem_device", device.subsystemDeviceID.map { hex($0, width: 4) }),
            ("class", device.classCode.map { hex($0, width: 6) }),
            ("driver", device.driver),
            ("driver_override", device.driverOverride),
            ("iommu_group", device.iommuGroup.map(String.init)),
            ("parent", device.parent?.description),
            ("physfn", device.physfn?.description),
            ("virtfns", device.virtfns.isEmpty ? nil : device.virtfns.map(\.description).joined(separator: ",")),
            ("sriov_numvfs", device.sriov.map { String($0.numVFs) }),
            ("sriov_totalvfs", device.sriov.map { String($0.totalVFs) }),
            ("sriov_drivers_autoprobe", device.sriov?.driversAutoprobe.map { $0 ? "1" : "0" }),
            ("problems", device.problems.isEmpty ? nil : device.problems.map(\.description).joined(separator: "; ")),
        ]
    }
}
