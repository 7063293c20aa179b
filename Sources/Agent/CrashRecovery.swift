import Enforcement
import Journal
import Sysfs
import Topology

/// A plan the previous run journaled (`action_planned`) but whose outcome it never recorded: the agent died
/// between the intent and the end of the plan (a step in flight, or steps still to go).
public struct InterruptedPlan: Sendable, Equatable {
    public enum Kind: String, Sendable { case assign, release, enforce, sriov, other }

    public var plan: ActionPlan
    public var started: [StepStarted]
    public var finished: [StepFinished]
    /// For an assign (a release): whether the `assignment_made` (`assignment_released`) record that ends its
    /// story followed it.
    public var recorded = false

    public var kind: Kind {
        if plan.reason.hasPrefix("assign to ") { return .assign }
        if plan.reason.hasPrefix("release from ") { return .release }
        if plan.reason.hasPrefix("enforce") { return .enforce }
        if plan.reason.hasPrefix("[[sriov]]") { return .sriov }
        return .other
    }

    /// Every device a step was started on, with the driver it had before the plan's first step on it.
    public var driversBefore: [(device: PCIAddress, driver: String?)] {
        var seen = Set<PCIAddress>()
        return started.compactMap { step in seen.insert(step.device).inserted ? (step.device, step.driverBefore) : nil }
    }

    /// What an interrupted assign was asked for, from the `driver_override` its steps write: with some members
    /// set to `none` or `pci-stub` beside others on `vfio-pci`, those were quarantined siblings (`--quarantine`)
    /// and the others the requested devices; otherwise every device in `devices` counts as requested.
    public func requestedDevices(among devices: [PCIAddress]) -> ([PCIAddress], Planner.SiblingMode) {
        var overrides: [PCIAddress: String] = [:]
        for step in plan.steps where step.operation.hasPrefix("driver_override=") {
            overrides[step.device] = String(step.operation.dropFirst("driver_override=".count))
        }
        for mode in [Planner.SiblingMode.none, .pciStub] {
            let quarantined = Set(overrides.filter { $0.value == mode.rawValue }.keys)
            let requested = devices.filter { !quarantined.contains($0) }
            if !quarantined.isEmpty && !requested.isEmpty { return (requested, mode) }
        }
        return (devices, .passthrough)
    }

    /// The plans of the last run (the records after the last `agent_started`) that never ended: a step started
    /// and not finished, or fewer steps finished than planned with none failed (a failure means the executor
    /// rolled back, and its rollback steps are journaled as steps too), or an assign (a release) whose every
    /// step succeeded but whose `assignment_made` (`assignment_released`) record never came: the process died
    /// between the last write and saving the assignment table, and without recovery the group would stay on
    /// vfio-pci with no owner (back on its drivers but still held, which start-up enforcement would undo).
    public static func find(in records: [JournalRecord]) -> [InterruptedPlan] {
        let lastStart = records.lastIndex { $0.kind == .agentStarted }
        let run = lastStart.map { records[$0...] } ?? records[...]
        var plans: [UInt64: InterruptedPlan] = [:]
        var order: [UInt64] = []
        for record in run {
            switch record.event {
            case .actionPlanned(let plan):
                // Plan ids restart with each engine; a second plan with the same id ends the first's story.
                if plans[plan.planID] == nil { order.append(plan.planID) } else { order.removeAll { $0 == plan.planID }; order.append(plan.planID) }
                plans[plan.planID] = InterruptedPlan(plan: plan, started: [], finished: [])
            case .stepStarted(let step): plans[step.planID]?.started.append(step)
            case .stepFinished(let step): plans[step.planID]?.finished.append(step)
            case .assignmentMade(let assignment): markRecorded(assignment, kind: .assign, in: &plans, order: order)
            case .assignmentReleased(let assignment): markRecorded(assignment, kind: .release, in: &plans, order: order)
            default: break
            }
        }
        return order.compactMap { plans[$0] }.filter { candidate in
            let finishedSteps = Set(candidate.finished.map(\.step))
            if candidate.started.contains(where: { !finishedSteps.contains($0.step) }) { return true }
            if candidate.finished.contains(where: { !$0.succeeded }) { return false }
            if candidate.finished.count < candidate.plan.steps.count { return true }
            return (candidate.kind == .assign || candidate.kind == .release) && !candidate.recorded
        }
    }

    /// The latest unrecorded plan of `kind` for the assignment's owner and group is recorded.
    private static func markRecorded(_ assignment: Journal.Assignment, kind: Kind, in plans: inout [UInt64: InterruptedPlan], order: [UInt64]) {
        let devices = Set(assignment.group.devices)
        for id in order.reversed() {
            guard let plan = plans[id], plan.kind == kind, !plan.recorded, plan.plan.owner == assignment.owner,
                  !devices.isDisjoint(with: plan.plan.group.devices) else { continue }
            plans[id]?.recorded = true
            return
        }
    }
}

extension Engine {
    /// Start-up reconciliation after a crash: for each plan the previous run left unfinished (see
    /// ``InterruptedPlan/find(in:)``), with sysfs as it is now, finish it or roll it back, and journal what was
    /// done: one `recovery` record per plan (its outcome and the devices it had touched). An interrupted assign is finished (the group ends isolated for its owner) when the planner allows it,
    /// and rolled back to the drivers the journal recorded otherwise; an interrupted release is finished; an
    /// interrupted enforcement or `[[sriov]]` rule is left to ``start(version:)``, which enforces everything.
    ///
    /// Call it before ``start(version:)``, with the journal's records as they were at start.
    public func recoverInterruptedPlans(from records: [JournalRecord]) async -> Report {
        var report = Report()
        let interrupted = InterruptedPlan.find(in: records)
        guard !interrupted.isEmpty else { return report }
        for entry in interrupted {
            let label = "plan \(entry.plan.planID) (\(entry.plan.reason)) was interrupted by the agent's end"
            let cause = Cause.agent("crash recovery: \(label)")
            let devices = entry.plan.group.devices.filter { graph.devices[$0] != nil }
            var outcome: Recovery.Outcome
            var detail: String
            switch entry.kind {
            case .assign:
                let owner = entry.plan.owner ?? "?"
                if let held = assignments.assignments.first(where: { $0.owner == owner && devices.allSatisfy($0.covers) }), !devices.isEmpty {
                    outcome = .alreadyRecorded
                    detail = "the assignment to \(held.owner) was already recorded; enforcement puts the group back"
                    break
                }
                let targets = Array(Set(entry.plan.steps.map(\.device)).intersection(devices)).sorted()
                // What the members had before the interrupted plan touched them, from its journaled steps: the
                // driver each first step found, and no driver_override where the plan set one.
                var originals: [PCIAddress: (driver: String?, override: String?)] = [:]
                for (device, driver) in entry.driversBefore {
                    let setOverride = entry.plan.steps.contains { $0.device == device && $0.operation.hasPrefix("driver_override=") }
                    originals[device] = (driver, setOverride ? nil : graph.devices[device]?.driverOverride)
                }
                let (requested, siblings) = entry.requestedDevices(among: targets.isEmpty ? devices : targets)
                let finished = await assign(requested, owner: owner, siblings: siblings, cause: cause, originals: originals)
                report.merge(finished)
                if !finished.actions.isEmpty && finished.actions.allSatisfy({ $0.result.outcome == .completed }) {
                    outcome = .finished
                    detail = "the group is isolated for \(owner)"
                } else {
                    let rollback = rollbackPlan(entry)
                    if rollback.steps.isEmpty {
                        outcome = .nothingToUndo
                        detail = "could not be finished, and nothing needs undoing"
                    } else {
                        let result = await execute(rollback, cause: cause, reason: "roll back interrupted plan \(entry.plan.planID)", into: &report)
                        if result.outcome == .completed {
                            outcome = .rolledBack
                            detail = "could not be finished; rolled back to the drivers the members had"
                        } else {
                            outcome = .failed
                            detail = "could not be finished, and rolling back failed: \(result.failure?.message ?? "?")"
                        }
                    }
                }
            case .release:
                if let owner = entry.plan.owner, assignments.assignments.contains(where: { $0.owner == owner && devices.contains(where: $0.covers) }) {
                    let finished = await release(owner: owner, addresses: devices.filter { address in
                        assignments.assignments.contains { $0.owner == owner && $0.covers(address) }
                    }, cause: cause)
                    report.merge(finished)
                    if finished.actions.allSatisfy({ $0.result.outcome == .completed }) {
                        outcome = .finished
                        detail = "the group is back on its drivers"
                    } else {
                        outcome = .failed
                        detail = "could not be finished"
                    }
                } else {
                    outcome = .alreadyRecorded
                    detail = "the release was already recorded"
                }
            case .enforce, .sriov, .other:
                outcome = .leftToStartup
                detail = "left to start-up enforcement"
            }
            let touched = entry.driversBefore.map { PlannedStep(device: $0.device, operation: "recover", driverBefore: $0.driver) }
            await record(.recovery(Recovery(planID: entry.plan.planID, reason: entry.plan.reason, group: entry.plan.group,
                                            owner: entry.plan.owner, outcome: outcome, devices: touched, detail: detail)),
                         cause: cause, into: &report)
            let said = outcome == .finished ? "finished: \(detail)" : detail
            report.notes.append("crash recovery: \(label): \(said)")
        }
        return report
    }

    /// Puts every device an interrupted plan touched back on the driver the journal says it had, clearing the
    /// `driver_override` the plan set.
    func rollbackPlan(_ entry: InterruptedPlan) -> Plan {
        var steps: [PlanStep] = []
        for (address, before) in entry.driversBefore.reversed() {
            guard let device = graph.devices[address] else { continue }
            if device.driverOverride != nil { steps.append(PlanStep(address, .setDriverOverride(nil))) }
            guard device.driver != before else { continue }
            if let current = device.driver { steps.append(PlanStep(address, .unbind(from: current))) }
            if let before { steps.append(PlanStep(address, .bind(to: before))) }
        }
        return Plan(kind: .release, owner: entry.plan.owner, targets: entry.driversBefore.map(\.device),
                    group: entry.plan.group.number, steps: steps)
    }
}
