import Sysfs

/// The kinds of record, as they appear in the `kind` field and in `--kind`.
public enum RecordKind: String, Codable, Sendable, CaseIterable {
    case eventSeen = "event_seen"
    case groupStateChanged = "group_state_changed"
    case violationDetected = "violation_detected"
    case actionPlanned = "action_planned"
    case stepStarted = "step_started"
    case stepFinished = "step_finished"
    case assignmentMade = "assignment_made"
    case assignmentReleased = "assignment_released"
    case policyLoaded = "policy_loaded"
    case policyRejected = "policy_rejected"
    case agentStarted = "agent_started"
    case agentStopped = "agent_stopped"
    case agentResynced = "agent_resynced"
    case recordRefused = "record_refused"
    /// Start-up crash recovery: what became of one plan the previous run left unfinished. Last, so that the other
    /// kinds keep their ``messageID``.
    case recovery = "recovery"
    /// A plan's end and its outcome (schema 2). Added after `recovery`, so every earlier kind keeps its ``messageID``.
    case planFinished = "plan_finished"
    /// A request or a policy rule the planner refused before any write, with its reasons.
    case planRefused = "plan_refused"
    /// A device another tool keeps taking back: the agent noticed, and repairs it with a back-off.
    case flapping = "flapping"

    /// The journald `MESSAGE_ID` of the kind: a fixed 128-bit id, so `journalctl MESSAGE_ID=...` finds every record of it.
    public var messageID: String {
        let index = RecordKind.allCases.firstIndex(of: self)!
        return "8d3f6a1e5c2b4f7a9e0d1c2b3a4f5e" + hex(UInt8(index + 1), width: 2)
    }
}

/// An IOMMU group as the journal names it: by its member devices. The kernel's group number is only an
/// observation beside them (numbers change across reboots), never a key.
public struct GroupRef: Codable, Sendable, Equatable, Hashable {
    /// The member devices, sorted.
    public var devices: [PCIAddress]
    /// The group number the kernel gave at the time (`/sys/kernel/iommu_groups/N`), as observed.
    public var number: Int?

    public init(devices: [PCIAddress], number: Int? = nil) {
        self.devices = devices.sorted()
        self.number = number
    }

    /// `group 14 (0000:03:00.0, 0000:03:00.1)`.
    public var label: String {
        let members = devices.map(\.description).joined(separator: ", ")
        if let number { return "group \(number) (\(members))" }
        return "group (\(members))"
    }
}

/// A group's state, as DESIGN.md defines them.
public enum GroupState: String, Codable, Sendable, CaseIterable {
    case host, isolated, violated, blocked
}

/// A udev event the agent saw.
public struct EventSeen: Codable, Sendable, Equatable {
    public var device: PCIAddress?
    public var devpath: String
    public var action: String
    public var seqnum: UInt64?
    public var driver: String?
    public var group: GroupRef?
    public init(device: PCIAddress?, devpath: String, action: String, seqnum: UInt64? = nil, driver: String? = nil,
                group: GroupRef? = nil) {
        self.device = device; self.devpath = devpath; self.action = action; self.seqnum = seqnum
        self.driver = driver; self.group = group
    }
}

/// A group moved from one state to another.
public struct GroupStateChange: Codable, Sendable, Equatable {
    public var group: GroupRef
    public var from: GroupState?
    public var to: GroupState
    public var reason: String
    public var owner: String?
    public init(group: GroupRef, from: GroupState?, to: GroupState, reason: String, owner: String? = nil) {
        self.group = group; self.from = from; self.to = to; self.reason = reason; self.owner = owner
    }
}

/// A member of an assigned group was found on a host driver.
public struct Violation: Codable, Sendable, Equatable {
    public var group: GroupRef
    public var device: PCIAddress
    /// The host driver that claimed it.
    public var driver: String
    public var owner: String?
    public init(group: GroupRef, device: PCIAddress, driver: String, owner: String? = nil) {
        self.group = group; self.device = device; self.driver = driver; self.owner = owner
    }
}

/// One step of a plan.
public struct PlannedStep: Codable, Sendable, Equatable {
    public var device: PCIAddress
    /// What the step does, in words: `unbind e1000`, `driver_override=vfio-pci`, `bind vfio-pci`, ...
    public var operation: String
    public var driverBefore: String?
    public var driverAfter: String?
    /// The write, typed (schema 2; nil in schema 1 records: see ``typedAction``).
    public var action: StepAction?
    /// The action's driver or value (see ``StepAction``).
    public var argument: String?
    public init(device: PCIAddress, operation: String, driverBefore: String? = nil, driverAfter: String? = nil) {
        self.device = device; self.operation = operation; self.driverBefore = driverBefore; self.driverAfter = driverAfter
    }
    /// A typed step; `operation` is written beside it in words.
    public init(device: PCIAddress, action: StepAction, argument: String?, driverBefore: String? = nil, driverAfter: String? = nil) {
        self.init(device: device, operation: action.operationText(argument), driverBefore: driverBefore, driverAfter: driverAfter)
        self.action = action; self.argument = argument
    }
}

/// The whole plan, recorded (durably) before its first sysfs write.
public struct ActionPlan: Codable, Sendable, Equatable {
    public var planID: UInt64
    public var group: GroupRef
    public var owner: String?
    /// Why, in words, for the operator (recovery reads ``planKind``, never this).
    public var reason: String
    public var steps: [PlannedStep]
    /// What the plan is for (schema 2; nil in schema 1 records: see ``planKind``).
    public var kind: PlanKind?
    /// ``JournalSchema/current`` when written; nil in schema 1 records.
    public var schema: Int?
    public init(planID: UInt64, group: GroupRef, owner: String? = nil, reason: String, steps: [PlannedStep],
                kind: PlanKind? = nil, schema: Int? = nil) {
        self.planID = planID; self.group = group; self.owner = owner; self.reason = reason; self.steps = steps
        self.kind = kind; self.schema = schema
    }
}

/// A step of a plan began.
public struct StepStarted: Codable, Sendable, Equatable {
    public var planID: UInt64
    public var step: Int
    public var device: PCIAddress
    public var operation: String
    public var driverBefore: String?
    /// The write, typed (schema 2).
    public var action: StepAction?
    public var argument: String?
    public init(planID: UInt64, step: Int, device: PCIAddress, operation: String, driverBefore: String?,
                action: StepAction? = nil, argument: String? = nil) {
        self.planID = planID; self.step = step; self.device = device; self.operation = operation
        self.driverBefore = driverBefore; self.action = action; self.argument = argument
    }
}

/// A step of a plan ended: the driver before and after, and the errno when it failed.
public struct StepFinished: Codable, Sendable, Equatable {
    public var planID: UInt64
    public var step: Int
    public var device: PCIAddress
    public var operation: String
    public var driverBefore: String?
    public var driverAfter: String?
    /// `errno` of the failed write, nil when the step succeeded.
    public var errno: Int32?
    public var error: String?
    /// How long the step took.
    public var durationNanos: UInt64
    /// The write, typed (schema 2).
    public var action: StepAction?
    public var argument: String?
    /// The failure's kind as the executor names it (`device-gone`, `write-failed`, ...; schema 2).
    public var failureKind: String?
    public var succeeded: Bool { errno == nil && error == nil }
    public init(planID: UInt64, step: Int, device: PCIAddress, operation: String, driverBefore: String?,
                driverAfter: String?, errno: Int32? = nil, error: String? = nil, durationNanos: UInt64,
                action: StepAction? = nil, argument: String? = nil, failureKind: String? = nil) {
        self.planID = planID; self.step = step; self.device = device; self.operation = operation
        self.driverBefore = driverBefore; self.driverAfter = driverAfter; self.errno = errno; self.error = error
        self.durationNanos = durationNanos; self.action = action; self.argument = argument; self.failureKind = failureKind
    }
}

/// A group given to, or taken back from, an owner.
public struct Assignment: Codable, Sendable, Equatable {
    public var owner: String
    public var group: GroupRef
    /// The drivers the members had before, to restore on release.
    public var originalDrivers: [String: String]?
    public init(owner: String, group: GroupRef, originalDrivers: [String: String]? = nil) {
        self.owner = owner; self.group = group; self.originalDrivers = originalDrivers
    }
}

public struct PolicyLoaded: Codable, Sendable, Equatable {
    public var path: String
    /// SHA-256 of the policy file's bytes.
    public var sha256: String
    public var rules: Int
    public init(path: String, sha256: String, rules: Int) { self.path = path; self.sha256 = sha256; self.rules = rules }
}

public struct PolicyRejected: Codable, Sendable, Equatable {
    public var path: String
    public var error: String
    public var line: Int?
    public var column: Int?
    public init(path: String, error: String, line: Int? = nil, column: Int? = nil) {
        self.path = path; self.error = error; self.line = line; self.column = column
    }
}

public struct AgentStarted: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public init(version: String, pid: Int32) { self.version = version; self.pid = pid }
}

public struct AgentStopped: Codable, Sendable, Equatable {
    public var reason: String
    /// What was running when the stop began (`udev bind 0000:03:01.0`, `control: assign ...`): the agent let it
    /// finish (the executor completes a plan or rolls it back) before it stopped. Absent when nothing was.
    public var inFlight: [String]?
    public init(reason: String, inFlight: [String]? = nil) {
        self.reason = reason
        self.inFlight = inFlight.flatMap { $0.isEmpty ? nil : $0 }
    }
}

public struct AgentResynced: Codable, Sendable, Equatable {
    /// How many differences the resync found between the graph and sysfs.
    public var changes: Int
    public var summary: String
    public init(changes: Int, summary: String) { self.changes = changes; self.summary = summary }
}

/// Start-up crash recovery of one plan the previous run journaled (`action_planned`) but never finished.
public struct Recovery: Codable, Sendable, Equatable {
    /// What became of the plan.
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// Carried through to its end against sysfs as it is now.
        case finished
        /// Could not be finished; the members went back to the drivers the journal recorded.
        case rolledBack = "rolled_back"
        /// Its outcome was already recorded (the assignment held, the release done): nothing to do.
        case alreadyRecorded = "already_recorded"
        /// Could not be finished, and it had changed nothing that needed undoing.
        case nothingToUndo = "nothing_to_undo"
        /// Neither finishing nor rolling back succeeded.
        case failed
        /// An enforcement or `[[sriov]]` plan: start-up enforcement, which redoes every such plan, takes it over.
        case leftToStartup = "left_to_startup"

        /// `rolled back`: the raw value in words.
        public var words: String { String(rawValue.map { $0 == "_" ? " " : $0 }) }
    }

    /// The interrupted plan's id (in the previous run) and its reason (`assign to vm1`, `release from vm1`, ...).
    public var planID: UInt64
    public var reason: String
    public var group: GroupRef
    public var owner: String?
    public var outcome: Outcome
    /// The devices the interrupted plan had started steps on, with the driver each had before it.
    public var devices: [PlannedStep]
    /// One sentence: what was done, or why it failed.
    public var detail: String
    public init(planID: UInt64, reason: String, group: GroupRef, owner: String? = nil, outcome: Outcome,
                devices: [PlannedStep], detail: String) {
        self.planID = planID; self.reason = reason; self.group = group; self.owner = owner; self.outcome = outcome
        self.devices = devices; self.detail = detail
    }
}

/// Something the journal would not take as it came: a torn tail set aside at start, a record too large.
public struct RecordRefused: Codable, Sendable, Equatable {
    public var reason: String
    /// Where the refused bytes went (e.g. `journal.torn.1`), when they were kept.
    public var setAsideAs: String?
    public var bytes: Int?
    /// After the journal refused records (a full disk) and takes them again: how many were lost meanwhile.
    public var lostRecords: Int?
    public init(reason: String, setAsideAs: String? = nil, bytes: Int? = nil, lostRecords: Int? = nil) {
        self.reason = reason; self.setAsideAs = setAsideAs; self.bytes = bytes; self.lostRecords = lostRecords
    }
}

/// A plan the planner refused before any write (a release naming another owner's device, an `[[sriov]]` rule whose
/// PF fails a gate, enforcement that may not touch a device): what was asked and why not.
public struct PlanRefused: Codable, Sendable, Equatable {
    /// `assign`, `release`, `enforce`, `sriov`.
    public var kind: String
    public var group: GroupRef?
    public var owner: String?
    /// The devices asked for.
    public var targets: [PCIAddress]
    /// One sentence per reason, each naming its device (`0000:03:01.0: is assigned to vm1, not vm2`).
    public var reasons: [String]
    public init(kind: String, group: GroupRef? = nil, owner: String? = nil, targets: [PCIAddress], reasons: [String]) {
        self.kind = kind; self.group = group; self.owner = owner; self.targets = targets; self.reasons = reasons
    }
}

/// A device another tool keeps taking back from the agent: `fights` repairs within `windowSeconds`. Journaled once
/// per episode; repairs go on, each after `backoffSeconds`.
public struct Flapping: Codable, Sendable, Equatable {
    public var device: PCIAddress
    public var group: GroupRef?
    public var owner: String?
    /// The driver that took it last.
    public var driver: String?
    public var fights: Int
    public var windowSeconds: Double
    /// The wait before the next repair (it doubles while the fight goes on, up to a bound).
    public var backoffSeconds: Double
    public init(device: PCIAddress, group: GroupRef? = nil, owner: String? = nil, driver: String? = nil, fights: Int,
                windowSeconds: Double, backoffSeconds: Double) {
        self.device = device; self.group = group; self.owner = owner; self.driver = driver; self.fights = fights
        self.windowSeconds = windowSeconds; self.backoffSeconds = backoffSeconds
    }
}

/// What a record says happened, with its typed payload.
public enum JournalEvent: Sendable, Equatable {
    case eventSeen(EventSeen)
    case groupStateChanged(GroupStateChange)
    case violationDetected(Violation)
    case actionPlanned(ActionPlan)
    case stepStarted(StepStarted)
    case stepFinished(StepFinished)
    case assignmentMade(Assignment)
    case assignmentReleased(Assignment)
    case policyLoaded(PolicyLoaded)
    case policyRejected(PolicyRejected)
    case agentStarted(AgentStarted)
    case agentStopped(AgentStopped)
    case agentResynced(AgentResynced)
    case recordRefused(RecordRefused)
    case recovery(Recovery)
    case planFinished(PlanFinished)
    case planRefused(PlanRefused)
    case flapping(Flapping)

    public var kind: RecordKind {
        switch self {
        case .eventSeen: .eventSeen
        case .groupStateChanged: .groupStateChanged
        case .violationDetected: .violationDetected
        case .actionPlanned: .actionPlanned
        case .stepStarted: .stepStarted
        case .stepFinished: .stepFinished
        case .assignmentMade: .assignmentMade
        case .assignmentReleased: .assignmentReleased
        case .policyLoaded: .policyLoaded
        case .policyRejected: .policyRejected
        case .agentStarted: .agentStarted
        case .agentStopped: .agentStopped
        case .agentResynced: .agentResynced
        case .recordRefused: .recordRefused
        case .recovery: .recovery
        case .planFinished: .planFinished
        case .planRefused: .planRefused
        case .flapping: .flapping
        }
    }

    /// Every device the record concerns: the device itself and the members of its group.
    public var devices: [PCIAddress] {
        var result: [PCIAddress] = []
        func add(_ d: PCIAddress?) { if let d, !result.contains(d) { result.append(d) } }
        if let device = primaryDevice { add(device) }
        for d in group?.devices ?? [] { add(d) }
        if case .actionPlanned(let plan) = self { for s in plan.steps { add(s.device) } }
        if case .recovery(let recovery) = self { for s in recovery.devices { add(s.device) } }
        if case .planRefused(let refused) = self { for d in refused.targets { add(d) } }
        return result
    }

    /// The one device the record is about, when there is one.
    public var primaryDevice: PCIAddress? {
        switch self {
        case .eventSeen(let e): e.device
        case .violationDetected(let v): v.device
        case .stepStarted(let s): s.device
        case .stepFinished(let s): s.device
        case .flapping(let f): f.device
        default: nil
        }
    }

    /// The group the record concerns, when there is one.
    public var group: GroupRef? {
        switch self {
        case .eventSeen(let e): e.group
        case .groupStateChanged(let g): g.group
        case .violationDetected(let v): v.group
        case .actionPlanned(let p): p.group
        case .recovery(let r): r.group
        case .planRefused(let r): r.group
        case .flapping(let f): f.group
        case .assignmentMade(let a), .assignmentReleased(let a): a.group
        default: nil
        }
    }

    /// The owner (VM, pod) the record concerns, when there is one.
    public var owner: String? {
        switch self {
        case .groupStateChanged(let g): g.owner
        case .violationDetected(let v): v.owner
        case .actionPlanned(let p): p.owner
        case .recovery(let r): r.owner
        case .planRefused(let r): r.owner
        case .flapping(let f): f.owner
        case .assignmentMade(let a), .assignmentReleased(let a): a.owner
        default: nil
        }
    }

    func encodePayload<K: CodingKey>(to c: inout KeyedEncodingContainer<K>, forKey key: K) throws {
        switch self {
        case .eventSeen(let p): try c.encode(p, forKey: key)
        case .groupStateChanged(let p): try c.encode(p, forKey: key)
        case .violationDetected(let p): try c.encode(p, forKey: key)
        case .actionPlanned(let p): try c.encode(p, forKey: key)
        case .stepStarted(let p): try c.encode(p, forKey: key)
        case .stepFinished(let p): try c.encode(p, forKey: key)
        case .assignmentMade(let p), .assignmentReleased(let p): try c.encode(p, forKey: key)
        case .policyLoaded(let p): try c.encode(p, forKey: key)
        case .policyRejected(let p): try c.encode(p, forKey: key)
        case .agentStarted(let p): try c.encode(p, forKey: key)
        case .agentStopped(let p): try c.encode(p, forKey: key)
        case .agentResynced(let p): try c.encode(p, forKey: key)
        case .recordRefused(let p): try c.encode(p, forKey: key)
        case .recovery(let p): try c.encode(p, forKey: key)
        case .planFinished(let p): try c.encode(p, forKey: key)
        case .planRefused(let p): try c.encode(p, forKey: key)
        case .flapping(let p): try c.encode(p, forKey: key)
        }
    }

    static func decode<K: CodingKey>(kind: RecordKind, from c: KeyedDecodingContainer<K>, forKey key: K) throws -> JournalEvent {
        switch kind {
        case .eventSeen: .eventSeen(try c.decode(EventSeen.self, forKey: key))
        case .groupStateChanged: .groupStateChanged(try c.decode(GroupStateChange.self, forKey: key))
        case .violationDetected: .violationDetected(try c.decode(Violation.self, forKey: key))
        case .actionPlanned: .actionPlanned(try c.decode(ActionPlan.self, forKey: key))
        case .stepStarted: .stepStarted(try c.decode(StepStarted.self, forKey: key))
        case .stepFinished: .stepFinished(try c.decode(StepFinished.self, forKey: key))
        case .assignmentMade: .assignmentMade(try c.decode(Assignment.self, forKey: key))
        case .assignmentReleased: .assignmentReleased(try c.decode(Assignment.self, forKey: key))
        case .policyLoaded: .policyLoaded(try c.decode(PolicyLoaded.self, forKey: key))
        case .policyRejected: .policyRejected(try c.decode(PolicyRejected.self, forKey: key))
        case .agentStarted: .agentStarted(try c.decode(AgentStarted.self, forKey: key))
        case .agentStopped: .agentStopped(try c.decode(AgentStopped.self, forKey: key))
        case .agentResynced: .agentResynced(try c.decode(AgentResynced.self, forKey: key))
        case .recordRefused: .recordRefused(try c.decode(RecordRefused.self, forKey: key))
        case .recovery: .recovery(try c.decode(Recovery.self, forKey: key))
        case .planFinished: .planFinished(try c.decode(PlanFinished.self, forKey: key))
        case .planRefused: .planRefused(try c.decode(PlanRefused.self, forKey: key))
        case .flapping: .flapping(try c.decode(Flapping.self, forKey: key))
        }
    }
}
