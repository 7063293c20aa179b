import Sysfs
import Topology

/// Decides what to write, and whether anything may be written at all. Pure: the same context and request give
/// the same plan, and nothing is read or written here.
///
/// The rules it keeps (the answer to libvirt's 2013 `group='auto'` question):
/// - a whole group is isolated or none of it is; bridges stay on `pcieport`;
/// - nothing outside the allowlist, nothing protected, nothing the host uses is ever written: such a member
///   refuses the whole group, and the refusal names it and why;
/// - a group held by one owner is refused to another, naming the holder.
public enum Planner {
    /// How members that were not asked for are isolated.
    public enum SiblingMode: String, Sendable, Hashable, Codable, CaseIterable {
        /// Every member goes to the isolation driver (`vfio-pci`), like the requested device.
        case passthrough
        /// Siblings get `driver_override=none` and no driver: quarantined, unusable by host and guest alike.
        case none
        /// Siblings go to `pci-stub`.
        case pciStub = "pci-stub"
    }

    // MARK: Assign

    /// Plans isolating the whole group of each address for `owner`. One plan per group; each carries the
    /// assignment to record once it has been carried out.
    public static func assign(_ addresses: [PCIAddress], owner: String, isolationDriver: String = "vfio-pci",
                              siblings: SiblingMode = .passthrough, in context: PlannerContext) -> [(plan: Plan, assignment: Assignment?)] {
        var byGroup: [Int: [PCIAddress]] = [:]
        var results: [(Plan, Assignment?)] = []
        for address in addresses {
            guard let device = context.graph.devices[address] else {
                results.append((Plan(kind: .assign, owner: owner, targets: [address],
                                     refusals: [.init(address, "no such PCI device")]), nil))
                continue
            }
            guard let group = device.iommuGroup else {
                results.append((Plan(kind: .assign, owner: owner, targets: [address],
                                     refusals: [.init(address, "is in no IOMMU group: the IOMMU is off or not supported, so it cannot be isolated")]), nil))
                continue
            }
            byGroup[group, default: []].append(address)
        }
        for group in byGroup.keys.sorted() {
            results.append(assignGroup(group, targets: byGroup[group]!, owner: owner, isolationDriver: isolationDriver,
                                       siblings: siblings, in: context))
        }
        return results
    }

    static func assignGroup(_ group: Int, targets: [PCIAddress], owner: String, isolationDriver: String,
                            siblings: SiblingMode, in context: PlannerContext) -> (Plan, Assignment?) {
        var plan = Plan(kind: .assign, owner: owner, targets: targets, group: group)
        let members = context.graph.members(ofGroup: group)
        if !context.verdicts.hasAllowlist {
            plan.refusals.append(.init(nil, "the policy has no [manage] allowlist: vfio-warden only watches (monitor-only)"))
        }
        if let holder = members.lazy.compactMap({ context.assignmentHolding($0) }).first, holder.owner != owner {
            plan.refusals.append(.init(targets.first, "its group \(group) is already assigned to \(holder.owner)"))
        }
        let requiredDrivers = Set(members.filter { !$0.isBridge }.map { member in
            targets.contains(member.address) ? isolationDriver : siblingDriver(siblings, isolationDriver)
        }).subtracting(["none"])
        for driver in requiredDrivers.sorted() where !context.loadedDrivers.contains(driver) {
            plan.refusals.append(.init(nil, "driver \(driver) is not loaded (no \(PCIPaths.driver(driver))): modprobe \(driver)"))
        }

        for member in members {
            let verdict = context.verdicts[member.address]
            if let rule = verdict.protectedBy {
                plan.refusals.append(.init(member.address, "is protected by the policy (\(rule))"))
            }
            if member.isBridge && (member.driver == nil || member.driver == "pcieport") {
                plan.unchanged.append(.init(member.address, "bridge stays on \(member.driver ?? "no driver")"))
                continue
            }
            if verdict.managedBy == nil {
                plan.refusals.append(.init(member.address, "is outside the allowlist ([manage]), so it may not be written"))
            }
            for use in verdict.hostUse {
                plan.refusals.append(.init(member.address, "is in use by the host: \(use)"))
            }
            if let unsure = member.unsureGroupReason {
                plan.refusals.append(.init(member.address, unsure))
            }
            if member.problems.contains(where: { $0.attribute == "driver" || $0.attribute == "driver_override" }) {
                plan.refusals.append(.init(member.address, "its driver state cannot be read (\(member.problems.map(\.description).joined(separator: "; ")))"))
            }
            if let sriov = member.sriov, sriov.numVFs > 0 {
                plan.refusals.append(.init(member.address, "has \(sriov.numVFs) VFs enabled; unbinding its driver would remove them (write 0 to sriov_numvfs first)"))
            }
            let target = targets.contains(member.address) ? isolationDriver : siblingDriver(siblings, isolationDriver)
            let steps = isolationSteps(member, driver: target)
            if steps.isEmpty {
                plan.unchanged.append(.init(member.address, "already on \(member.driver ?? "no driver") with driver_override \(member.driverOverride ?? "unset")"))
            }
            plan.steps += steps
        }
        guard !plan.isRefused else { return (plan, nil) }
        var assignment = Assignment(
            owner: owner,
            requested: targets.compactMap { address in context.graph.devices[address].map { DeviceIdentity($0, serial: context.verdicts[address].serial) } },
            members: members.map { member in
                let target = targets.contains(member.address) ? isolationDriver : siblingDriver(siblings, isolationDriver)
                return Assignment.Member(identity: DeviceIdentity(member, serial: context.verdicts[member.address].serial), originalDriver: member.driver, originalOverride: member.driverOverride,
                                         isBridge: member.isBridge, keptOn: member.isBridge || target == isolationDriver ? nil : target)
            },
            isolationDriver: isolationDriver)
        // Assigning again to the same owner keeps what was remembered from the first time.
        if let existing = members.lazy.compactMap({ context.assignmentHolding($0) }).first {
            let keptNow = Dictionary(assignment.members.map { ($0.identity.address, $0.keptOn) }, uniquingKeysWith: { $1 })
            // What each member is kept on follows the latest request (a quarantined sibling may now be asked for).
            assignment.members = existing.members.map { member in
                var member = member
                if let kept = keptNow[member.identity.address] { member.keptOn = kept }
                return member
            }
            assignment.requested = Array(Set(existing.requested + assignment.requested)).sorted { $0.address < $1.address }
        }
        return (plan, assignment)
    }

    static func siblingDriver(_ mode: SiblingMode, _ isolationDriver: String) -> String {
        switch mode {
        case .passthrough: return isolationDriver
        case .none: return "none"
        case .pciStub: return "pci-stub"
        }
    }

    /// The writes that move one endpoint onto `driver` (`none`: no driver at all) so no host driver can claim it:
    /// `driver_override` first, then unbind, then probe (which only the override's driver can win).
    public static func isolationSteps(_ device: PCIDevice, driver: String) -> [PlanStep] {
        var steps: [PlanStep] = []
        if device.driverOverride != driver {
            steps.append(PlanStep(device.address, .setDriverOverride(driver)))
        }
        let wanted: String? = driver == "none" ? nil : driver
        if let current = device.driver, current != wanted {
            steps.append(PlanStep(device.address, .unbind(from: current)))
        }
        if device.driver != wanted, let wanted {
            steps.append(PlanStep(device.address, .probe(expect: wanted)))
        }
        return steps
    }

    // MARK: Release

    /// Plans returning the group(s) of `owner`, or the group of each address, to the drivers they had.
    /// A group whose other requested devices are still assigned stays isolated.
    ///
    /// With both an owner and addresses, the request means that owner's assignment of those addresses: an address
    /// another owner holds is refused (naming the holder), and so is the whole request with it (``Engine`` writes
    /// nothing when any plan is refused).
    public static func release(owner: String?, addresses: [PCIAddress], in context: PlannerContext) -> [(plan: Plan, remaining: Assignment?)] {
        var results: [(Plan, Assignment?)] = []
        var handled: [Assignment] = []
        if let owner, addresses.isEmpty {
            let held = context.assignments.assignments(of: owner)
            if held.isEmpty {
                results.append((Plan(kind: .release, owner: owner, targets: [], refusals: [.init(nil, "\(owner) holds no assignment")]), nil))
            }
            for assignment in held {
                results.append(releaseAssignment(assignment, releasing: assignment.requested.map(\.address), in: context))
                handled.append(assignment)
            }
            return results
        }
        for address in addresses {
            guard let assignment = context.assignments.assignment(covering: address) else {
                results.append((Plan(kind: .release, owner: owner, targets: [address], refusals: [.init(address, "is not assigned")]), nil))
                continue
            }
            if let owner, assignment.owner != owner {
                results.append((Plan(kind: .release, owner: owner, targets: [address], group: context.graph.devices[address]?.iommuGroup,
                                     refusals: [.init(address, "is assigned to \(assignment.owner), not \(owner): only its owner's release returns it")]), nil))
                continue
            }
            guard !handled.contains(assignment) else { continue }
            handled.append(assignment)
            let released = addresses.filter { assignment.covers($0) }
            results.append(releaseAssignment(assignment, releasing: released, in: context))
        }
        return results
    }

    static func releaseAssignment(_ assignment: Assignment, releasing: [PCIAddress], in context: PlannerContext) -> (Plan, Assignment?) {
        let group = assignment.members.lazy.compactMap { context.graph.devices[$0.identity.address]?.iommuGroup }.first
        var plan = Plan(kind: .release, owner: assignment.owner, targets: releasing, group: group)
        var remaining = assignment
        remaining.requested.removeAll { releasing.contains($0.address) }
        if !remaining.requested.isEmpty {
            plan.unchanged.append(.init(nil, "the group stays isolated: \(remaining.requested.map(\.description).joined(separator: ", ")) still assigned to \(assignment.owner)"))
            return (plan, remaining)
        }
        for member in assignment.members {
            guard let device = context.graph.devices[member.identity.address] else {
                plan.unchanged.append(.init(member.identity.address, "is no longer present"))
                continue
            }
            guard member.identity.matches(device, serial: context.verdicts[device.address].serial) else {
                plan.refusals.append(.init(device.address, "is now \(device.ids ?? "unknown")\(context.verdicts[device.address].serial.map { " serial \($0)" } ?? ""), not the \(member.identity) that was assigned: left alone"))
                continue
            }
            if member.isBridge && (device.driver == nil || device.driver == "pcieport") {
                plan.unchanged.append(.init(device.address, "bridge stays on \(device.driver ?? "no driver")"))
                continue
            }
            let steps = restoreSteps(device, driver: member.originalDriver, override: member.originalOverride, loaded: context.loadedDrivers)
            if steps.isEmpty { plan.unchanged.append(.init(device.address, "already on \(device.driver ?? "no driver")")) }
            // Returning a device to the driver it had is what protection wants, so a device the policy now protects
            // or no longer manages (assigned under an earlier policy) is still given back; the plan says so.
            let verdict = context.verdicts[device.address]
            if !steps.isEmpty, let rule = verdict.protectedBy {
                plan.notices.append(.init(device.address, "is protected by the policy (\(rule)): given back to \(member.originalDriver ?? "no driver"), the driver it had before the assignment"))
            } else if !steps.isEmpty, verdict.managedBy == nil {
                plan.notices.append(.init(device.address, "is no longer inside the allowlist ([manage]): given back to \(member.originalDriver ?? "no driver"), the driver it had before the assignment"))
            }
            plan.steps += steps
        }
        return (plan, nil)
    }

    /// The writes that return a device to `driver` (`nil`: none) with `driver_override` back to `override`.
    static func restoreSteps(_ device: PCIDevice, driver: String?, override: String?, loaded: Set<String>) -> [PlanStep] {
        var steps: [PlanStep] = []
        if device.driverOverride != override {
            steps.append(PlanStep(device.address, .setDriverOverride(override)))
        }
        if device.driver != driver {
            if let current = device.driver { steps.append(PlanStep(device.address, .unbind(from: current))) }
            if let driver {
                steps.append(loaded.contains(driver) ? PlanStep(device.address, .bind(to: driver)) : PlanStep(device.address, .probe(expect: driver)))
            }
        }
        return steps
    }

    // MARK: Enforce

    /// Plans putting `address` back on the driver its assignment or `[[sriov]]` rule keeps it on, when a host driver
    /// holds it. `nil` when nothing holds the device or it is already where it belongs. A member the agent may not
    /// write (outside the allowlist, protected, in host use, not the device that was assigned, a PF with VFs
    /// enabled) gives a refused plan: the group is violated and the operator must act.
    public static func enforce(_ address: PCIAddress, in context: PlannerContext) -> Plan? {
        guard let device = context.graph.devices[address], let desired = context.desiredDriver(of: device) else { return nil }
        if device.driver == desired.driver { return nil }
        // Quarantined (`driver_override=none`, no driver) is the goal itself. An unbound device whose override
        // already names its driver is not: nothing will probe it (an isolation cut short between the unbind and the
        // probe, a VF whose override was set after its `add`), so it is probed.
        if device.driver == nil && device.driverOverride == desired.driver && desired.driver == "none" { return nil }
        if let driver = device.driver, GroupViability.isIsolatingDriver(driver), device.driverOverride == desired.driver { return nil }
        let assignment = context.assignmentHolding(device)
        var plan = Plan(kind: .enforce, owner: assignment?.owner, targets: [address], group: device.iommuGroup)
        let verdict = context.verdicts[address]
        // A VF held by its PF's rule passed the rule's gates (``PlannerContext/sriovRuleHolding(_:)``): the rule admits it.
        let admittedByRule = assignment == nil && context.sriovRuleHolding(device) != nil
        if verdict.managedBy == nil && !admittedByRule {
            plan.refusals.append(.init(address, "is outside the allowlist ([manage]): cannot isolate it, the group of \(desired.holder) is violated"))
        }
        if let rule = verdict.protectedBy {
            plan.refusals.append(.init(address, "is protected by the policy (\(rule)): the group of \(desired.holder) is violated"))
        }
        for use in verdict.hostUse {
            plan.refusals.append(.init(address, "is in use by the host (\(use)): not detached; the group of \(desired.holder) is violated"))
        }
        if let mismatch = context.assignedIdentityMismatch(device) {
            let assigned = mismatch.member.identity
            if assigned.ids == nil || device.ids == assigned.ids {
                plan.refusals.append(.init(address, "shows serial \(verdict.serial ?? "none"), not the \(assigned.serial ?? "?") of the device assigned to \(mismatch.assignment.owner): left alone"))
            } else {
                plan.refusals.append(.init(address, "is now \(device.ids ?? "a device of unknown ids"), not the \(assigned.ids ?? "?") assigned to \(mismatch.assignment.owner): left alone"))
            }
        }
        if let sriov = device.sriov, sriov.numVFs > 0, device.driver != nil {
            plan.refusals.append(.init(address, "has \(sriov.numVFs) VFs enabled; unbinding its driver would remove them, guests' included: left on \(device.driver!)"))
        }
        // `none` (a sibling quarantined by `--quarantine none`) is no driver at all: nothing to load.
        if desired.driver != "none" && !context.loadedDrivers.contains(desired.driver) {
            plan.refusals.append(.init(nil, "driver \(desired.driver) is not loaded: modprobe \(desired.driver)"))
        }
        plan.steps = isolationSteps(device, driver: desired.driver)
        if desired.driver != "none", device.driver == nil,
           !plan.steps.contains(where: { if case .probe = $0.action { return true } else { return false } }) {
            plan.steps.append(PlanStep(address, .probe(expect: desired.driver)))
        }
        return plan
    }

    /// Enforcement for every device the context holds: what a resync finds.
    public static func enforceAll(in context: PlannerContext) -> [Plan] {
        context.graph.sortedDevices.compactMap { enforce($0.address, in: context) }
    }

    // MARK: SR-IOV

    /// The gates a `[[sriov]]` rule's PF must pass before the rule writes anything or holds any VF, evaluated against
    /// the live graph: an allowlist exists (not monitor-only); the PF is the device the rule names (`ids`, `serial`);
    /// it is inside `[manage]` (or the rule says `manage_pf = true`); it is not protected; its group is not assigned.
    /// Host use, of the PF and every VF, is checked by ``sriov(_:in:)`` for the writes it plans.
    public static func sriovGates(_ rule: SRIOVRule, pf: PCIDevice, in context: PlannerContext) -> [Plan.Note] {
        var refusals: [Plan.Note] = []
        let verdict = context.verdicts[pf.address]
        if !context.verdicts.hasAllowlist {
            refusals.append(.init(nil, "the policy has no [manage] allowlist: vfio-warden only watches (monitor-only)"))
        }
        if let ids = rule.pfIDs, pf.ids != ids {
            refusals.append(.init(pf.address, "is \(pf.ids ?? "a device of unknown ids"), not the \(ids) its [[sriov]] rule names: left alone"))
        }
        if let serial = rule.pfSerial, verdict.serial != serial {
            refusals.append(.init(pf.address, "shows serial \(verdict.serial ?? "none"), not the \(serial) its [[sriov]] rule names: left alone"))
        }
        if let protected = verdict.protectedBy {
            refusals.append(.init(pf.address, "is protected by the policy (\(protected))"))
        } else if verdict.managedBy == nil && !rule.managesPF && context.verdicts.hasAllowlist {
            refusals.append(.init(pf.address, "is outside the allowlist ([manage]) and its [[sriov]] rule does not say manage_pf = true, so it may not be written"))
        }
        if let holder = context.assignmentHolding(pf) {
            refusals.append(.init(pf.address, "its group \(pf.iommuGroup.map(String.init) ?? "?") is assigned to \(holder.owner): its SR-IOV state is the guest's"))
        }
        return refusals
    }

    /// Plans a PF's `[[sriov]]` rule: `sriov_drivers_autoprobe` to 0 (so no host driver probes new VFs), then the
    /// VF count. VFs themselves are isolated by ``enforce(_:in:)`` as they appear. Refused unless the PF passes
    /// ``sriovGates(_:pf:in:)`` and neither the PF nor any of its VFs is in host use.
    public static func sriov(_ rule: SRIOVRule, in context: PlannerContext) -> Plan {
        var plan = Plan(kind: .sriov, targets: [rule.pf])
        guard let pf = context.graph.devices[rule.pf] else {
            plan.refusals.append(.init(rule.pf, "no such PCI device"))
            return plan
        }
        plan.group = pf.iommuGroup
        guard let sriov = pf.sriov else {
            plan.refusals.append(.init(rule.pf, "is not SR-IOV capable (no sriov_totalvfs)"))
            return plan
        }
        plan.refusals += sriovGates(rule, pf: pf, in: context)
        for use in context.verdicts[rule.pf].hostUse {
            plan.refusals.append(.init(rule.pf, "is in use by the host: \(use)"))
        }
        for vf in pf.virtfns {
            for use in context.verdicts[vf].hostUse {
                plan.refusals.append(.init(vf, "(a VF of \(rule.pf)) is in use by the host: \(use)"))
            }
        }
        if rule.numVFs > sriov.totalVFs {
            plan.refusals.append(.init(rule.pf, "numvfs \(rule.numVFs) is more than its sriov_totalvfs \(sriov.totalVFs)"))
        }
        if pf.driver == nil && rule.numVFs > 0 {
            plan.refusals.append(.init(rule.pf, "has no driver bound, so VFs cannot be created"))
        }
        if sriov.driversAutoprobe != false {
            plan.steps.append(PlanStep(rule.pf, .setDriversAutoprobe(false)))
        }
        if sriov.numVFs != rule.numVFs {
            if sriov.numVFs != 0 {
                let assigned = pf.virtfns.filter { context.assignments.assignment(covering: $0) != nil }
                if !assigned.isEmpty {
                    plan.refusals.append(.init(rule.pf, "changing from \(sriov.numVFs) VFs needs 0 first, but \(assigned.map(\.description).joined(separator: ", ")) are assigned"))
                }
                plan.steps.append(PlanStep(rule.pf, .setNumVFs(0)))
            }
            if rule.numVFs > 0 { plan.steps.append(PlanStep(rule.pf, .setNumVFs(rule.numVFs))) }
        }
        return plan
    }
}
