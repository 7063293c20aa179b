import Enforcement
import Journal
import Sysfs
import Topology

/// A plan the previous run journaled (`action_planned`) but whose outcome it never recorded: the agent died
/// between the intent and the end of the plan (a step in flight, steps still to go, its rollback under way, or
/// the record that ends its story still to write), or the journal failed under it.
///
/// Read from typed fields only (``ActionPlan/planKind``, ``PlannedStep/typedAction``, `plan_finished`): the
/// words of a plan's reason or a step's operation are read only for schema 1 records, in the Journal module.
public struct InterruptedPlan: Sendable, Equatable {
    public typealias Kind = PlanKind

    public var plan: ActionPlan
    public var started: [StepStarted]
    public var finished: [StepFinished]
    /// For an assign (a release): whether the `assignment_made` (`assignment_released`) record that ends its
    /// story followed it.
    public var recorded = false
    /// The plan's `plan_finished` (schema 2), when it came.
    public var end: PlanFinished?

    public var kind: Kind { plan.planKind }

    /// Whether the executor was rolling the plan back when it was interrupted: a step failed (other than a member
    /// gone mid-release, which the executor steps past) and no `plan_finished` came.
    public var wasRollingBack: Bool {
        end == nil && finished.contains { step in
            !step.succeeded && !(kind == .release && step.failureKind == "device-gone") && step.failureKind != "journal-failed"
        }
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
        for step in plan.steps {
            guard let (action, argument) = step.typedAction, action == .driverOverride else { continue }
            overrides[step.device] = argument ?? ""
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
    ///
    /// A schema 2 plan ends with its `plan_finished`: without one it was interrupted, whatever its steps say (a
    /// kill during the rollback, a release killed after a member went away, a journal that failed mid-plan).
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
            case .planFinished(let end): plans[end.planID]?.end = end
            case .recovery(let recovery) where plans[recovery.planID] != nil:
                // Recovered already (after the journal came back, in this same run): its story has ended.
                plans[recovery.planID] = nil
                order.removeAll { $0 == recovery.planID }
            case .assignmentMade(let assignment): markRecorded(assignment, kind: .assign, in: &plans, order: order)
            case .assignmentReleased(let assignment): markRecorded(assignment, kind: .release, in: &plans, order: order)
            default: break
            }
        }
        return order.compactMap { plans[$0] }.filter { candidate in
            let storyEnds = candidate.kind == .assign || candidate.kind == .release
            if candidate.plan.endsWithPlanFinished {
                guard let end = candidate.end, end.outcome != .journalFailed else { return true }
                return storyEnds && end.outcome == .completed && !candidate.recorded
            }
            // Schema 1: the end of a plan is read from its steps.
            let finishedSteps = Set(candidate.finished.map(\.step))
            if candidate.started.contains(where: { !finishedSteps.contains($0.step) }) { return true }
            if candidate.finished.contains(where: { !$0.succeeded }) { return false }
            if candidate.finished.count < candidate.plan.steps.count { return true }
            return storyEnds && !candidate.recorded
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
            case .assign where entry.wasRollingBack:
                // Killed while the executor rolled a failed assign back: finish the rollback, so the group ends where
                // it started (and not on vfio-pci with no assignment).
                (outcome, detail) = await rollBack(entry, cause: cause, into: &report)
                if outcome != .failed { detail = "the assign had failed and was being rolled back: " + detail }
            case .release where entry.wasRollingBack:
                // Killed while a failed release was rolled back into isolation: the assignment was never dropped, so
                // start-up enforcement isolates the group again, through the planner and the policy in force.
                outcome = .leftToStartup
                detail = "the release had failed and was being rolled back; the group is still held, and start-up enforcement isolates it"
            case .assign:
                let owner = entry.plan.owner ?? "?"
                if let held = assignments.assignments.first(where: { $0.owner == owner && devices.allSatisfy($0.covers) }), !devices.isEmpty {
                    outcome = .alreadyRecorded
                    detail = "the assignment to \(held.owner) was already recorded; enforcement puts the group back"
                    if !entry.recorded {
                        // Saved, but killed (or the journal failed) before its record: write the record that ends the story.
                        var drivers: [String: String] = [:]
                        for member in held.members { drivers[member.identity.address.description] = member.originalDriver ?? "none" }
                        await record(.assignmentMade(Journal.Assignment(owner: held.owner, group: entry.plan.group, originalDrivers: drivers)),
                                     cause: cause, into: &report)
                        detail = "the assignment to \(held.owner) was saved but never journaled: its assignment_made is written now"
                    }
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
                    (outcome, detail) = await rollBack(entry, cause: cause, into: &report)
                    if outcome != .failed { detail = "could not be finished; " + detail }
                }
            case .release:
                if let owner = entry.plan.owner, assignments.assignments.contains(where: { $0.owner == owner && devices.contains(where: $0.covers) }) {
                    // A release that wrote steps was giving back the whole group: finish it by the addresses that
                    // were asked for (the owner's assignment of them), whatever members the plan itself named.
                    let held = assignments.assignments.filter { $0.owner == owner && devices.contains(where: $0.covers) }
                    let finished = await release(owner: owner, addresses: held.flatMap { $0.requested.map(\.address) }, cause: cause)
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
                    if !entry.recorded, let owner = entry.plan.owner, entry.end?.outcome == .completed {
                        await record(.assignmentReleased(Journal.Assignment(owner: owner, group: entry.plan.group)), cause: cause, into: &report)
                        detail = "the release was saved but never journaled: its assignment_released is written now"
                    }
                }
            case .rollback:
                // Crash recovery's own rollback, interrupted: finish it, towards the drivers its steps were putting back.
                (outcome, detail) = await rollBack(entry, cause: cause, into: &report)
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

    /// Carries out ``rollbackPlan(_:)`` (journaled as a `rollback` plan): what became of it, in the recovery's words.
    private func rollBack(_ entry: InterruptedPlan, cause: Cause, into report: inout Report) async -> (Recovery.Outcome, String) {
        let rollback = rollbackPlan(entry)
        if rollback.steps.isEmpty { return (.nothingToUndo, "nothing needs undoing") }
        let result = await execute(rollback, cause: cause, reason: "roll back interrupted plan \(entry.plan.planID)", kind: .rollback, into: &report)
        if result.outcome == .completed { return (.rolledBack, "rolled back to the drivers the members had") }
        return (.failed, "rolling back failed: \(result.failure?.message ?? "?")")
    }

    /// Where a rollback puts each device: the driver the journal says it had before the plan's first step on it;
    /// for an interrupted rollback, the drivers that rollback was binding (its planned `bind` steps).
    func rollbackTargets(_ entry: InterruptedPlan) -> [(device: PCIAddress, driver: String?)] {
        guard entry.kind == .rollback else { return entry.driversBefore }
        var targets: [(device: PCIAddress, driver: String?)] = []
        for step in entry.plan.steps {
            guard let (action, argument) = step.typedAction else { continue }
            let index = targets.firstIndex { $0.device == step.device }
            let current = index.map { targets[$0].driver } ?? graph.devices[step.device]?.driver
            let driver: String? = switch action {
            case .bind: argument
            case .unbind: nil
            default: current
            }
            if let index { targets[index].driver = driver } else { targets.append((step.device, driver)) }
        }
        return targets
    }

    /// Puts every device an interrupted plan touched back on the driver the journal says it had, clearing the
    /// `driver_override` the plan set.
    func rollbackPlan(_ entry: InterruptedPlan) -> Plan {
        var steps: [PlanStep] = []
        let targets = rollbackTargets(entry)
        for (address, before) in targets.reversed() {
            guard let device = graph.devices[address] else { continue }
            if device.driverOverride != nil { steps.append(PlanStep(address, .setDriverOverride(nil))) }
            guard device.driver != before else { continue }
            if let current = device.driver { steps.append(PlanStep(address, .unbind(from: current))) }
            if let before { steps.append(PlanStep(address, .bind(to: before))) }
        }
        return Plan(kind: .release, owner: entry.plan.owner, targets: targets.map(\.device),
                    group: entry.plan.group.number, steps: steps)
    }
}
