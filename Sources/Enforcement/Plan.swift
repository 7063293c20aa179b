import Sysfs

/// What the planner decided for one request or one trigger: the exact steps, or a refusal with its reasons.
public struct Plan: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Isolate a whole group for an owner.
        case assign
        /// Return a group's members to the drivers they had.
        case release
        /// Put a member of an assigned group that a host driver claimed back on the isolation driver.
        case enforce
        /// Create VFs and keep them off host drivers, as an `[[sriov]]` rule says.
        case sriov
    }

    public var kind: Kind
    public var owner: String?
    /// The devices asked for (for enforce: the device that was claimed).
    public var targets: [PCIAddress]
    /// The group's number at planning time: an observation for the operator, never a key.
    public var group: Int?
    public var steps: [PlanStep]
    /// Members left as they are, each with why (bridges stay on pcieport; members already isolated).
    public var unchanged: [Note]
    /// Why the plan may not be carried out; empty when it may.
    public var refusals: [Note]
    /// What the operator should know about a plan that goes ahead (a release that gives a device the policy now
    /// protects back to the driver it had); journaled with the plan.
    public var notices: [Note] = []

    public struct Note: Sendable, Hashable, Codable, CustomStringConvertible {
        public var address: PCIAddress?
        public var reason: String

        public init(_ address: PCIAddress?, _ reason: String) {
            self.address = address
            self.reason = reason
        }

        public var description: String { address.map { "\($0): \(reason)" } ?? reason }
    }

    public init(kind: Kind, owner: String? = nil, targets: [PCIAddress], group: Int? = nil,
                steps: [PlanStep] = [], unchanged: [Note] = [], refusals: [Note] = []) {
        self.kind = kind
        self.owner = owner
        self.targets = targets
        self.group = group
        self.steps = steps
        self.unchanged = unchanged
        self.refusals = refusals
    }

    public var isRefused: Bool { !refusals.isEmpty }
}
