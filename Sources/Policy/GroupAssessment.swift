import Sysfs
import Topology

/// One member of a group as `check` shows it: host use and what the policy says.
public struct MemberCheck: Sendable, Hashable, Codable {
    public var address: PCIAddress
    public var ids: String?
    public var className: String?
    public var driver: String?
    public var isBridge: Bool
    public var hostUse: HostUseVerdict
    /// `managed`, `protected`, `outside-allowlist`, `monitor-only`, or `bridge` (a bridge outside the allowlist:
    /// it stays on its driver and is never written, so it does not block its group).
    public var policy: String
    /// The rule that decided (`manage.devices[0] (0000:03:01.0, line 14)`), if one did.
    public var policyRule: String?
    /// The policy verdict in words.
    public var policyDetail: String
    /// Whether this member stands in the way of assigning its group.
    public var blocks: Bool

    enum CodingKeys: String, CodingKey {
        case address, ids, driver, policy, blocks
        case className = "class_name", isBridge = "bridge", hostUse = "host_use"
        case policyRule = "policy_rule", policyDetail = "policy_detail"
    }

    /// Absent values are written as `null`, like the other reports.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(address, forKey: .address)
        try container.encode(ids, forKey: .ids)
        try container.encode(className, forKey: .className)
        try container.encode(driver, forKey: .driver)
        try container.encode(isBridge, forKey: .isBridge)
        try container.encode(hostUse, forKey: .hostUse)
        try container.encode(policy, forKey: .policy)
        try container.encode(policyRule, forKey: .policyRule)
        try container.encode(policyDetail, forKey: .policyDetail)
        try container.encode(blocks, forKey: .blocks)
    }
}

/// One group as `check` shows it, and whether it could be assigned to a guest.
public struct GroupCheck: Sendable, Hashable, Codable {
    /// The group number (valid until reboot), `nil` for a device with no IOMMU group.
    public var group: Int?
    /// `could-be-assigned` or `blocked`.
    public var verdict: String
    public var blocked: Bool
    /// Why the group is blocked, one line per member reason (`0000:00:1f.2: backs / (…)`).
    public var reasons: [String]
    /// The owner of a static assignment covering the group, if any.
    public var assignedTo: String?
    public var members: [MemberCheck]

    enum CodingKeys: String, CodingKey {
        case group, verdict, blocked, reasons, members
        case assignedTo = "assigned_to"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(group, forKey: .group)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(blocked, forKey: .blocked)
        try container.encode(reasons, forKey: .reasons)
        try container.encode(assignedTo, forKey: .assignedTo)
        try container.encode(members, forKey: .members)
    }
}

/// Combines the host-use analysis and the policy into group verdicts: a group is blocked when any member is in
/// host use, protected, outside the allowlist (bridges excepted: they are never written), or has an `iommu_group`
/// link that cannot be read (``PCIDevice/unsureGroupReason``, which the planner refuses too).
public enum GroupAssessment {
    /// Every group of `graph` in number order, then one pseudo-group per device without an IOMMU group.
    /// `serials`: PCI serial numbers by address (``PCISerialNumber/read(_:root:)``) for rules that check them.
    public static func check(
        graph: TopologyGraph, hostUse: HostUseAnalysis, policy: Policy, serials: [PCIAddress: String] = [:]
    ) -> [GroupCheck] {
        graph.sortedGroups.map { check(members: graph.members(ofGroup: $0.number), group: $0.number,
                                       graph: graph, hostUse: hostUse, policy: policy, serials: serials) }
            + graph.ungroupedDevices.map { check(members: [$0], group: nil, graph: graph, hostUse: hostUse,
                                                 policy: policy, serials: serials) }
    }

    /// The group that holds the device at `address` (or its pseudo-group without IOMMU); `nil` if no such device.
    public static func check(
        device address: PCIAddress, graph: TopologyGraph, hostUse: HostUseAnalysis, policy: Policy,
        serials: [PCIAddress: String] = [:]
    ) -> GroupCheck? {
        guard let device = graph.devices[address] else { return nil }
        if let number = device.iommuGroup {
            return check(members: graph.members(ofGroup: number), group: number, graph: graph, hostUse: hostUse,
                         policy: policy, serials: serials)
        }
        return check(members: [device], group: nil, graph: graph, hostUse: hostUse, policy: policy, serials: serials)
    }

    static func check(
        members devices: [PCIDevice], group: Int?, graph: TopologyGraph, hostUse: HostUseAnalysis, policy: Policy,
        serials: [PCIAddress: String]
    ) -> GroupCheck {
        var reasons: [String] = []
        if group == nil {
            reasons.append("\(devices.first.map { "\($0.address)" } ?? "device"): has no IOMMU group (is the IOMMU enabled?), so it cannot be isolated")
        }
        if policy.isMonitorOnly {
            reasons.append("monitor-only: the policy has no [manage] allowlist, so the agent assigns nothing")
        }
        var members: [MemberCheck] = []
        for device in devices {
            let use = hostUse.verdict(for: device.address)
            let verdict = policy.verdict(for: device, in: graph, serial: serials[device.address])
            var blocks = !use.safe
            for reason in use.reasons { reasons.append("\(device.address): \(reason.message)") }
            if let unsure = device.unsureGroupReason {
                blocks = true
                reasons.append("\(device.address): \(unsure)")
            }
            var name = verdict.name
            switch verdict {
            case .managed: break
            case .protected(let rule):
                blocks = true
                reasons.append("\(device.address): protected by \(rule)")
            case .outsideAllowlist where device.isBridge:
                name = "bridge"
            case .outsideAllowlist:
                blocks = true
                reasons.append("\(device.address): \(verdict)")
            case .monitorOnly:
                blocks = !device.isBridge || blocks
            }
            members.append(MemberCheck(
                address: device.address, ids: device.ids, className: device.className, driver: device.driver,
                isBridge: device.isBridge, hostUse: use, policy: name, policyRule: verdict.rule?.description,
                policyDetail: name == "bridge" ? "bridge outside the allowlist: stays on its driver and is never written"
                    : verdict.description,
                blocks: blocks))
        }
        let owner = devices.lazy.compactMap { policy.assignment(for: $0, serial: serials[$0.address])?.owner }.first
        let blocked = !reasons.isEmpty
        return GroupCheck(group: group, verdict: blocked ? "blocked" : "could-be-assigned", blocked: blocked,
                          reasons: reasons, assignedTo: owner, members: members)
    }
}
