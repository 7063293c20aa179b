import Enforcement
import Synchronization
import Journal
import Sysfs
import Topology

/// Records a plan's life in the journal: the whole plan (durable, before the first write), each step as it
/// starts and finishes (its action, device, drivers before and after, the errno of a failure), and its end
/// (`plan_finished`, with the outcome).
///
/// No write without its record: when a record cannot be made durable the observer throws, and the executor
/// makes no further write. The one exception is enforcement (`proceedsUnrecorded`): putting a stolen member of an
/// assigned group back on its isolation driver is the safe direction, and its recovery never needs the journal
/// (start-up enforcement redoes it from sysfs and the assignment table), so it goes on with the journal down;
/// what it could not record is listed in ``lost`` and journaled once the journal takes records again.
final class JournalObserver: ExecutionObserver {
    let journal: JournalWriter
    let planID: UInt64
    let kind: PlanKind
    let group: GroupRef
    let cause: Cause
    let reason: String
    let proceedsUnrecorded: Bool

    init(journal: JournalWriter, planID: UInt64, kind: PlanKind, group: GroupRef, cause: Cause, reason: String) {
        self.journal = journal
        self.planID = planID
        self.kind = kind
        self.group = group
        self.cause = cause
        self.reason = reason
        proceedsUnrecorded = kind == .enforce
    }

    /// Write-ahead: returns only once the plan is on disk (the writer's `append` waits for its fsync).
    func planWillRun(_ plan: Plan) async throws {
        let steps = plan.steps.map { step in
            let (action, argument) = step.journalAction
            return PlannedStep(device: step.address, action: action, argument: argument)
        }
        try await append(.actionPlanned(ActionPlan(planID: planID, group: group, owner: plan.owner, reason: reason, steps: steps,
                                                   kind: kind, schema: JournalSchema.current)), intent: true)
    }

    func stepStarted(_ step: PlanStep, driverBefore: String?) async throws {
        let index = state.withLock { state -> Int in
            state.steps += 1
            return state.steps
        }
        let (action, argument) = step.journalAction
        try await append(.stepStarted(StepStarted(planID: planID, step: index, device: step.address, operation: step.operationName,
                                                  driverBefore: driverBefore, action: action, argument: argument)))
    }

    func stepFinished(_ record: StepRecord) async throws {
        let (action, argument) = record.step.journalAction
        let finished = StepFinished(planID: planID, step: state.withLock { $0.steps }, device: record.step.address,
                                    operation: record.step.operationName, driverBefore: record.driverBefore,
                                    driverAfter: record.driverAfter, errno: record.failure?.errno,
                                    error: record.failure?.message, durationNanos: record.durationNanoseconds,
                                    action: action, argument: argument, failureKind: record.failure?.kind.rawValue)
        try await append(.stepFinished(finished))
    }

    /// The plan's end. A plan whose intent never reached the journal has no story to end.
    func planFinished(_ plan: Plan, result: ExecutionResult) async {
        guard state.withLock({ $0.intentRecorded }) else { return }
        let outcome: PlanOutcome = switch result.outcome {
        case .completed: .completed
        case .rolledBack: .rolledBack
        case .rollbackIncomplete: .rollbackIncomplete
        case .refused: .refused
        case .journalFailed: .journalFailed
        }
        _ = try? await append(.planFinished(PlanFinished(planID: planID, kind: kind, outcome: outcome, failure: result.failure?.message,
                                                         failureKind: result.failure?.kind.rawValue, errno: result.failure?.errno)))
    }

    /// What could not be recorded (empty when every record is durable), in words, oldest first.
    var lost: [String] { state.withLock { $0.lost } }

    private func append(_ event: JournalEvent, intent: Bool = false) async throws {
        if state.withLock({ $0.unrecorded }) {
            state.withLock { $0.lost.append(StoryRenderer.sentence(for: JournalRecord(seq: 0, realtimeMicros: 0, monotonicNanos: 0, host: "",
                                                                                      cause: cause, event: event, prev: ""))) }
            return
        }
        do {
            try await journal.append(event, cause: cause)
            if intent { state.withLock { $0.intentRecorded = true } }
        } catch {
            let sentence = StoryRenderer.sentence(for: JournalRecord(seq: 0, realtimeMicros: 0, monotonicNanos: 0, host: "",
                                                                     cause: cause, event: event, prev: ""))
            state.withLock { $0.lost.append("\(sentence) (\(error))") }
            guard proceedsUnrecorded else { throw error }
            state.withLock { $0.unrecorded = true }
        }
    }

    private struct State {
        /// Steps are numbered from 1 in the order they run; rollback steps continue the count.
        var steps = 0
        var intentRecorded = false
        /// Enforcement carrying on with the journal down.
        var unrecorded = false
        var lost: [String] = []
    }

    private let state = Mutex(State())
}

extension PlanStep {
    /// The journal's name of the write: `driver_override`, `unbind`, `drivers_probe`, `bind`, `sriov_numvfs`...
    var operationName: String {
        let (action, argument) = journalAction
        return action.operationText(argument)
    }

    /// The write as the journal types it.
    var journalAction: (StepAction, String?) {
        switch action {
        case .setDriverOverride(let driver): (.driverOverride, driver)
        case .unbind(let driver): (.unbind, driver)
        case .probe(let expect): (.driversProbe, expect)
        case .bind(let driver): (.bind, driver)
        case .setDriversAutoprobe(let on): (.sriovDriversAutoprobe, on ? "1" : "0")
        case .setNumVFs(let count): (.sriovNumVFs, String(count))
        }
    }
}
