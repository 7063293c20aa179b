import Sysfs

/// Which records `vfio-warden journal` shows. Empty lists match everything; each non-empty one must match.
public struct JournalFilter: Sendable, Equatable {
    /// A group as the user names it: the number the kernel gave (an observation recorded beside the devices),
    /// or any member's address (`--group 0000:03:01.0` means the group that device was in).
    public enum GroupSelector: Sendable, Equatable {
        case number(Int)
        case member(PCIAddress)

        /// `14` or `0000:03:01.0`.
        public init?(_ text: String) {
            if let n = Int(text), n >= 0 { self = .number(n) } else if let a = PCIAddress(text) { self = .member(a) } else { return nil }
        }
    }

    public var devices: [PCIAddress] = []
    public var groups: [GroupSelector] = []
    public var owners: [String] = []
    public var kinds: Set<RecordKind> = []
    /// Inclusive bounds, microseconds since 1970.
    public var sinceMicros: Int64?
    public var untilMicros: Int64?

    public init(devices: [PCIAddress] = [], groups: [GroupSelector] = [], owners: [String] = [], kinds: Set<RecordKind> = [],
                sinceMicros: Int64? = nil, untilMicros: Int64? = nil) {
        self.devices = devices; self.groups = groups; self.owners = owners; self.kinds = kinds
        self.sinceMicros = sinceMicros; self.untilMicros = untilMicros
    }

    /// Whether `record` passes, judged by what it carries itself.
    public func matches(_ record: JournalRecord) -> Bool {
        matches(record, group: record.event.group, owner: record.event.owner)
    }

    /// Whether `record` passes, with the group and owner it belongs to supplied from context
    /// (a step record names its plan and device, not the plan's group and owner; see `JournalFilterStream`).
    public func matches(_ record: JournalRecord, group: GroupRef?, owner: String?) -> Bool {
        if let sinceMicros, record.realtimeMicros < sinceMicros { return false }
        if let untilMicros, record.realtimeMicros > untilMicros { return false }
        if !kinds.isEmpty && !kinds.contains(record.kind) { return false }
        if !devices.isEmpty {
            let concerned = record.event.devices
            if !devices.contains(where: concerned.contains) { return false }
        }
        if !owners.isEmpty {
            guard let owner, owners.contains(owner) else { return false }
        }
        if !groups.isEmpty {
            guard let group else { return false }
            let hit = groups.contains { selector in
                switch selector {
                case .number(let n): group.number == n
                case .member(let a): group.devices.contains(a)
                }
            }
            if !hit { return false }
        }
        return true
    }

    /// Parses `--kind` values: the record kind names (`violation_detected`), also with dashes.
    public static func parseKind(_ text: String) -> RecordKind? {
        RecordKind(rawValue: text.replacingOccurrences(of: "-", with: "_").lowercased())
    }
}

/// Applies a filter to records in journal order, remembering what earlier records said: the plan each step
/// belongs to (its group and owner) and the last group each device was seen in. So `--owner vm1` or
/// `--group 14` also shows the steps that carried out vm1's plan.
public struct JournalFilterStream: Sendable {
    public var filter: JournalFilter
    var planGroup: [UInt64: GroupRef] = [:]
    var planOwner: [UInt64: String] = [:]
    var deviceGroup: [PCIAddress: GroupRef] = [:]

    public init(_ filter: JournalFilter) { self.filter = filter }

    public mutating func admit(_ record: JournalRecord) -> Bool {
        var group = record.event.group
        var owner = record.event.owner
        switch record.event {
        case .actionPlanned(let plan):
            planGroup[plan.planID] = plan.group
            planOwner[plan.planID] = plan.owner
        case .stepStarted(let step):
            group = planGroup[step.planID] ?? deviceGroup[step.device]
            owner = planOwner[step.planID]
        case .stepFinished(let step):
            group = planGroup[step.planID] ?? deviceGroup[step.device]
            owner = planOwner[step.planID]
        default:
            break
        }
        if let g = record.event.group { for d in g.devices { deviceGroup[d] = g } }
        return filter.matches(record, group: group, owner: owner)
    }
}
