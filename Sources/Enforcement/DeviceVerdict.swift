import Sysfs

/// What the policy and the host-use analysis say of one device: the planner's only knowledge of them, so that
/// it stays a pure function and can be tested without files.
public struct DeviceVerdict: Sendable, Hashable, Codable {
    /// The allowlist rule that lets the agent write to the device, `nil` when it is outside the allowlist.
    public var managedBy: String?
    /// The `[protect]` rule that forbids touching it, `nil` when none does.
    public var protectedBy: String?
    /// Why the host needs it (a mounted filesystem, an interface that is up, the boot VGA...); empty when it is free.
    public var hostUse: [String]
    /// The PCI serial number (Device Serial Number capability), normalised (lower-case, dash-separated bytes), when
    /// a rule checks one and it could be read; `nil` otherwise.
    public var serial: String?

    public init(managedBy: String? = nil, protectedBy: String? = nil, hostUse: [String] = [], serial: String? = nil) {
        self.managedBy = managedBy
        self.protectedBy = protectedBy
        self.hostUse = hostUse
        self.serial = serial
    }

    /// A device the agent may write to: managed, not protected, not in host use.
    public var mayBeDetached: Bool { managedBy != nil && protectedBy == nil && hostUse.isEmpty }
}

/// Verdicts for every device the planner may look at; a device with no entry is outside the allowlist.
public struct VerdictTable: Sendable, Hashable {
    public var verdicts: [PCIAddress: DeviceVerdict]
    /// `false` when the policy has no allowlist at all: the agent then only watches.
    public var hasAllowlist: Bool

    public init(_ verdicts: [PCIAddress: DeviceVerdict], hasAllowlist: Bool = true) {
        self.verdicts = verdicts
        self.hasAllowlist = hasAllowlist
    }

    public subscript(_ address: PCIAddress) -> DeviceVerdict {
        verdicts[address] ?? DeviceVerdict()
    }
}
