import Sysfs
import Topology

/// A group's state as operators see it (DESIGN.md): `host` (not assigned), `isolated` (assigned and viable),
/// `violated` (assigned, but a member is on a host driver), `blocked` (cannot be assigned), with the reasons.
public struct GroupStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable { case host, isolated, violated, blocked }

    public var group: Int
    public var members: [PCIAddress]
    public var state: State
    public var owner: String?
    public var reasons: [String]

    public init(group: Int, members: [PCIAddress], state: State, owner: String?, reasons: [String]) {
        self.group = group
        self.members = members
        self.state = state
        self.owner = owner
        self.reasons = reasons
    }

    /// One sentence for the journal: the reasons, or what the state means when there are none.
    public var summary: String {
        if !reasons.isEmpty { return reasons.joined(separator: "; ") }
        switch state {
        case .host: return "not assigned; every member may be detached"
        case .isolated: return "every member is on a vfio driver, pci-stub or no driver"
        case .violated: return "a member is on a host driver"
        case .blocked: return "cannot be assigned"
        }
    }

    /// The state of group `number` in `context`.
    public static func of(group number: Int, in context: PlannerContext) -> GroupStatus {
        let members = context.graph.members(ofGroup: number)
        let addresses = members.map(\.address)
        if let assignment = members.lazy.compactMap({ context.assignmentHolding($0) }).first {
            let viability = GroupViability.of(members)
            return GroupStatus(group: number, members: addresses, state: viability.viable ? .isolated : .violated,
                               owner: assignment.owner, reasons: viability.reasons)
        }
        // VFs an `[[sriov]]` rule keeps on its `vf_driver` are held too, by the rule. A VF on the driver the rule
        // chose is where it belongs, even a host driver (`vf_driver = "nvme"`): then the group is the host's.
        if !members.isEmpty, members.allSatisfy({ $0.isBridge || context.desiredDriver(of: $0) != nil }),
           let pf = members.lazy.compactMap(\.physfn).first {
            let misplaced = members.filter { member in
                guard let desired = context.desiredDriver(of: member)?.driver else { return false }
                return member.driver != desired && !(GroupViability.isIsolatingDriver(desired) && GroupViability.keepsGroupViable(member))
            }
            let viability = GroupViability.of(misplaced)
            let isolating = members.allSatisfy { member in
                context.desiredDriver(of: member).map { GroupViability.isIsolatingDriver($0.driver) || $0.driver == "none" } ?? true
            }
            return GroupStatus(group: number, members: addresses,
                               state: !viability.viable ? .violated : isolating ? .isolated : .host,
                               owner: "[[sriov]] \(pf)", reasons: viability.reasons)
        }
        var reasons: [String] = []
        if !context.verdicts.hasAllowlist { reasons.append("the policy has no [manage] allowlist (monitor-only)") }
        for member in members {
            let verdict = context.verdicts[member.address]
            if let rule = verdict.protectedBy { reasons.append("\(member.address) is protected (\(rule))") }
            let written = !(member.isBridge && (member.driver == nil || member.driver == "pcieport"))
            if written && verdict.managedBy == nil && context.verdicts.hasAllowlist {
                reasons.append("\(member.address) is outside the allowlist")
            }
            if let problem = member.problems.first(where: { $0.attribute == "iommu_group" }) {
                reasons.append("\(member.address): its iommu_group link cannot be read (\(problem.message)), so the group's membership is unsure")
            }
            for use in verdict.hostUse { reasons.append("\(member.address) is in use by the host: \(use)") }
        }
        return GroupStatus(group: number, members: addresses, state: reasons.isEmpty ? .host : .blocked, owner: nil, reasons: reasons)
    }

    /// Every group's state, in group order.
    public static func all(in context: PlannerContext) -> [GroupStatus] {
        context.graph.sortedGroups.map { of(group: $0.number, in: context) }
    }
}
