import Sysfs

/// The version of the journal's record schema, written on every plan record (`action_planned`, `plan_finished`).
///
/// - 1 (no `schema` field): plans carried only their `reason` in words and each step's `operation` as text, and a
///   plan's end showed only as its last `step_finished`. Still read: see ``ActionPlan/planKind`` and
///   ``PlannedStep/typedAction``, the one place that reads those words.
/// - 2: a plan has a `kind`, each step an `action` and `argument`, and every plan ends with `plan_finished`
///   (its outcome), so recovery never reads prose.
public enum JournalSchema {
    public static let current = 2
}

/// What a plan was for, as recovery needs to know it.
public enum PlanKind: String, Codable, Sendable, CaseIterable {
    /// Isolate a group for an owner (`assign`, `[[assign]]`).
    case assign
    /// Give a group back to the drivers its members had (`release`).
    case release
    /// Put a claimed member of an assigned group back on its isolation driver.
    case enforce
    /// An `[[sriov]]` rule: VFs made and kept off host drivers.
    case sriov
    /// Crash recovery putting the devices of an interrupted plan back on the drivers they had.
    case rollback
    /// A schema 1 plan whose reason named none of the above.
    case other
}

/// The sysfs write a step makes.
public enum StepAction: String, Codable, Sendable, CaseIterable {
    /// `driver_override`: `argument` is the driver, nil to clear it.
    case driverOverride = "driver_override"
    /// `drivers/D/unbind`: `argument` is D.
    case unbind
    /// `drivers/D/bind`: `argument` is D.
    case bind
    /// `bus/pci/drivers_probe`: `argument` is the driver expected to bind, nil for none.
    case driversProbe = "drivers_probe"
    /// `sriov_drivers_autoprobe`: `argument` is `1` or `0`.
    case sriovDriversAutoprobe = "sriov_drivers_autoprobe"
    /// `sriov_numvfs`: `argument` is the count.
    case sriovNumVFs = "sriov_numvfs"
}

/// How a plan ended, as the executor reported it.
public enum PlanOutcome: String, Codable, Sendable, CaseIterable {
    /// Every step done and verified.
    case completed
    /// A step failed and every touched device was put back.
    case rolledBack = "rolled_back"
    /// A step failed and putting things back failed too.
    case rollbackIncomplete = "rollback_incomplete"
    /// Nothing was written: refused, or its intent could not be made durable.
    case refused
    /// The journal failed mid-plan: the executor stopped writing at that point (no rollback, which would be
    /// writes without a record). Recovery finishes or undoes it once the journal takes records again.
    case journalFailed = "journal_failed"
}

/// A plan's end: its outcome, recorded after its last step (and its rollback).
public struct PlanFinished: Codable, Sendable, Equatable {
    public var planID: UInt64
    public var kind: PlanKind
    public var outcome: PlanOutcome
    /// The failure that ended it (the first failed step), nil when it completed.
    public var failure: String?
    /// The failure's kind as the executor names it (`device-gone`, `write-failed`, ...).
    public var failureKind: String?
    public var errno: Int32?
    public var schema: Int
    public init(planID: UInt64, kind: PlanKind, outcome: PlanOutcome, failure: String? = nil, failureKind: String? = nil,
                errno: Int32? = nil, schema: Int = JournalSchema.current) {
        self.planID = planID; self.kind = kind; self.outcome = outcome; self.failure = failure
        self.failureKind = failureKind; self.errno = errno; self.schema = schema
    }
}

extension StepAction {
    /// The schema 1 `operation` text of a step with this action and argument (still written beside the typed
    /// fields, so `journal show` and older readers keep their words).
    public func operationText(_ argument: String?) -> String {
        switch self {
        case .driverOverride: "driver_override=\(argument ?? "")"
        case .unbind: "unbind \(argument ?? "")"
        case .bind: "bind \(argument ?? "")"
        case .driversProbe: "drivers_probe → \(argument ?? "none")"
        case .sriovDriversAutoprobe: "sriov_drivers_autoprobe=\(argument ?? "")"
        case .sriovNumVFs: "sriov_numvfs=\(argument ?? "")"
        }
    }
}
