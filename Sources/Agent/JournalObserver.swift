import Enforcement
import Synchronization
import Journal
import Sysfs
import Topology

/// Records a plan's life in the journal: the whole plan (durable, before the first write), each step as it
/// starts and finishes, with drivers before and after and the errno of a failure.
final class JournalObserver: ExecutionObserver {
    let journal: JournalWriter
    let planID: UInt64
    let group: GroupRef
    let cause: Cause
    let reason: String

    init(journal: JournalWriter, planID: UInt64, group: GroupRef, cause: Cause, reason: String) {
        self.journal = journal
        self.planID = planID
        self.group = group
        self.cause = cause
        self.reason = reason
    }

    /// Write-ahead: returns only once the plan is on disk (the writer's `append` waits for its fsync).
    func planWillRun(_ plan: Plan) async throws {
        let steps = plan.steps.map { PlannedStep(device: $0.address, operation: $0.operationName) }
        try await journal.append(.actionPlanned(ActionPlan(planID: planID, group: group, owner: plan.owner,
                                                           reason: reason, steps: steps)), cause: cause)
    }

    func stepStarted(_ step: PlanStep, driverBefore: String?) async {
        let index = counter.withLock { count -> Int in
            count += 1
            return count
        }
        _ = try? await journal.append(.stepStarted(StepStarted(planID: planID, step: index, device: step.address,
                                                               operation: step.operationName, driverBefore: driverBefore)), cause: cause)
    }

    func stepFinished(_ record: StepRecord) async {
        let finished = StepFinished(planID: planID, step: counter.withLock { $0 }, device: record.step.address,
                                    operation: record.step.operationName, driverBefore: record.driverBefore,
                                    driverAfter: record.driverAfter, errno: record.failure?.errno,
                                    error: record.failure?.message, durationNanos: record.durationNanoseconds)
        _ = try? await journal.append(.stepFinished(finished), cause: cause)
    }

    func planFinished(_ plan: Plan, result: ExecutionResult) async {}

    /// Steps are numbered from 1 in the order they run; rollback steps continue the count.
    private let counter = Mutex(0)
}

extension PlanStep {
    /// The journal's name of the write: `driver_override`, `unbind`, `drivers_probe`, `bind`, `sriov_numvfs`...
    var operationName: String {
        switch action {
        case .setDriverOverride(let driver): return "driver_override=\(driver ?? "")"
        case .unbind(let driver): return "unbind \(driver)"
        case .probe(let expect): return "drivers_probe → \(expect ?? "none")"
        case .bind(let driver): return "bind \(driver)"
        case .setDriversAutoprobe(let on): return "sriov_drivers_autoprobe=\(on ? 1 : 0)"
        case .setNumVFs(let count): return "sriov_numvfs=\(count)"
        }
    }
}
