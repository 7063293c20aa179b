import SystemPackage
import Sysfs
import Topology

/// What one step did: the driver before and after, how long it took, and the error if it failed.
public struct StepRecord: Sendable, Hashable, Codable {
    public var step: PlanStep
    public var driverBefore: String?
    public var driverAfter: String?
    public var durationNanoseconds: UInt64
    /// `nil` on success.
    public var failure: StepFailure?

    public init(step: PlanStep, driverBefore: String?, driverAfter: String?, durationNanoseconds: UInt64, failure: StepFailure?) {
        self.step = step
        self.driverBefore = driverBefore
        self.driverAfter = driverAfter
        self.durationNanoseconds = durationNanoseconds
        self.failure = failure
    }
}

/// Why a step failed.
public struct StepFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The write itself failed with an errno.
        case writeFailed = "write-failed"
        /// The write did not return within the step timeout.
        case timedOut = "timed-out"
        /// The write returned but re-reading shows a different state (a `drivers_probe` that bound nothing).
        case notVerified = "not-verified"
        /// The device is gone (removed mid-plan).
        case deviceGone = "device-gone"
        /// The kernel refused a DMA host driver on a group a VFIO user holds open (EBUSY, kernels since 5.19).
        case kernelEnforcing = "kernel-enforcing"
        /// A probe or bind found the device bound to another driver: something else claimed it in between.
        case claimedMeanwhile = "claimed-meanwhile"
        /// The journal could not make the step's record durable (a full or failing disk): the write was not made
        /// (or, when only its outcome was lost, nothing more was written).
        case journalFailed = "journal-failed"
    }

    public var kind: Kind
    public var message: String
    /// The errno of a failed write.
    public var errno: Int32?

    public init(kind: Kind, message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}

/// The outcome of carrying out a plan.
public struct ExecutionResult: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// Every step done and verified.
        case completed
        /// A step failed and every touched device was put back where it was.
        case rolledBack = "rolled-back"
        /// A step failed and putting things back failed too: the operator must look (the records say where).
        case rollbackIncomplete = "rollback-incomplete"
        /// The plan was refused and nothing was written.
        case refused
        /// The journal failed mid-plan: the executor stopped writing there, without rolling back (a rollback would
        /// be writes without a record). Crash recovery finishes or undoes the plan from its journaled steps once
        /// the journal takes records again.
        case journalFailed = "journal-failed"
    }

    public var outcome: Outcome
    public var steps: [StepRecord]
    public var rollback: [StepRecord]
    public var failure: StepFailure?

    public init(outcome: Outcome, steps: [StepRecord] = [], rollback: [StepRecord] = [], failure: StepFailure? = nil) {
        self.outcome = outcome
        self.steps = steps
        self.rollback = rollback
        self.failure = failure
    }
}

/// Told of each stage, so the journal can record intent before the first write and each outcome after.
public protocol ExecutionObserver: Sendable {
    /// Called before the first write of a plan; the plan is not carried out if this throws (the journal could not
    /// make the intent durable).
    func planWillRun(_ plan: Plan) async throws
    /// Called before each write; the write is not made, and the plan stops, if this throws.
    func stepStarted(_ step: PlanStep, driverBefore: String?) async throws
    /// Called after each write; the plan stops (no further write, no rollback) if this throws.
    func stepFinished(_ record: StepRecord) async throws
    func planFinished(_ plan: Plan, result: ExecutionResult) async
}

/// An observer that does nothing, for callers that keep no journal.
public struct SilentObserver: ExecutionObserver {
    public init() {}
    public func planWillRun(_ plan: Plan) async throws {}
    public func stepStarted(_ step: PlanStep, driverBefore: String?) async throws {}
    public func stepFinished(_ record: StepRecord) async throws {}
    public func planFinished(_ plan: Plan, result: ExecutionResult) async {}
}
