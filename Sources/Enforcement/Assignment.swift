import Sysfs
import Topology

/// A group given to an owner (a VM name, a pod). The whole group follows the device that was asked for;
/// each member's driver from before the assignment is kept so that release can restore it.
public struct Assignment: Sendable, Hashable, Codable {
    /// Who holds the group: a VM name, a pod, as given to `assign --owner`.
    public var owner: String
    /// The devices the owner asked for.
    public var requested: [DeviceIdentity]
    /// Every member of the group at assignment time, with the driver it had then (`nil`: none).
    public var members: [Member]
    /// The driver members are kept on (`vfio-pci`); a quarantined sibling's is its ``Member/keptOn``.
    public var isolationDriver: String

    public struct Member: Sendable, Hashable, Codable {
        public var identity: DeviceIdentity
        public var originalDriver: String?
        public var originalOverride: String?
        public var isBridge: Bool
        /// The driver this member is kept on when it is not the assignment's ``Assignment/isolationDriver``: a
        /// sibling quarantined by `assign --quarantine none|pci-stub` (`none`, `pci-stub`). `nil`: the isolation driver.
        public var keptOn: String?

        public init(identity: DeviceIdentity, originalDriver: String?, originalOverride: String?, isBridge: Bool, keptOn: String? = nil) {
            self.identity = identity
            self.originalDriver = originalDriver
            self.originalOverride = originalOverride
            self.isBridge = isBridge
            self.keptOn = keptOn
        }
    }

    public init(owner: String, requested: [DeviceIdentity], members: [Member], isolationDriver: String) {
        self.owner = owner
        self.requested = requested
        self.members = members
        self.isolationDriver = isolationDriver
    }

    /// Whether this assignment covers the device at `address`.
    public func covers(_ address: PCIAddress) -> Bool {
        members.contains { $0.identity.address == address }
    }

    /// The driver the device at `address` is kept on: its ``Member/keptOn``, else the isolation driver (also for a
    /// device hot-plugged into the group later).
    public func driverKeeping(_ address: PCIAddress) -> String {
        members.first { $0.identity.address == address }?.keptOn ?? isolationDriver
    }
}

/// Every assignment in force, as a value the planner reads.
public struct AssignmentTable: Sendable, Hashable, Codable {
    public var assignments: [Assignment] {
        didSet { coveringIndex = Self.index(assignments) }
    }
    /// For each member address, the first assignment in `assignments` that covers it: the planner asks this for
    /// every device of every event. Derived from `assignments` (not encoded, not compared).
    private var coveringIndex: [PCIAddress: Int]

    public init(_ assignments: [Assignment] = []) {
        self.assignments = assignments
        coveringIndex = Self.index(assignments)
    }

    /// The assignment that covers `address`, if any (the first, should two cover it).
    public func assignment(covering address: PCIAddress) -> Assignment? {
        coveringIndex[address].map { assignments[$0] }
    }

    private static func index(_ assignments: [Assignment]) -> [PCIAddress: Int] {
        var index: [PCIAddress: Int] = [:]
        for (position, assignment) in assignments.enumerated() {
            for member in assignment.members where index[member.identity.address] == nil {
                index[member.identity.address] = position
            }
        }
        return index
    }

    private enum CodingKeys: String, CodingKey { case assignments }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.container(keyedBy: CodingKeys.self).decode([Assignment].self, forKey: .assignments))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(assignments, forKey: .assignments)
    }

    public static func == (lhs: AssignmentTable, rhs: AssignmentTable) -> Bool { lhs.assignments == rhs.assignments }

    public func hash(into hasher: inout Hasher) { hasher.combine(assignments) }

    /// Assignments held by `owner`.
    public func assignments(of owner: String) -> [Assignment] {
        assignments.filter { $0.owner == owner }
    }
}
