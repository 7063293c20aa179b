import Enforcement
import Sysfs

/// A plan as `plan --json`, `assign --json` and `release --json` print it: keys in snake_case, every step
/// with the sysfs file it writes and the value.
public struct PlanJSON: Encodable, Sendable {
    public var plan: Plan
    public var result: ExecutionResult?

    public init(_ plan: Plan, result: ExecutionResult? = nil) {
        self.plan = plan
        self.result = result
    }

    enum Keys: String, CodingKey { case kind, owner, group, targets, refused, refusals, steps, unchanged, notices, outcome, failure, executed, rollback }
    enum NoteKeys: String, CodingKey { case device, reason }
    enum StepKeys: String, CodingKey { case device, action, path, value, expect, driver_before, driver_after, duration_ms, error, errno }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(plan.kind.rawValue, forKey: .kind)
        try container.encode(plan.owner, forKey: .owner)
        try container.encode(plan.group, forKey: .group)
        try container.encode(plan.targets, forKey: .targets)
        try container.encode(plan.isRefused, forKey: .refused)
        var refusals = container.nestedUnkeyedContainer(forKey: .refusals)
        for note in plan.refusals { try encodeNote(note, into: &refusals) }
        var steps = container.nestedUnkeyedContainer(forKey: .steps)
        for step in plan.steps {
            var nested = steps.nestedContainer(keyedBy: StepKeys.self)
            try Self.encode(step, into: &nested)
        }
        var unchanged = container.nestedUnkeyedContainer(forKey: .unchanged)
        for note in plan.unchanged { try encodeNote(note, into: &unchanged) }
        // Only when there are some (a release giving back a device the policy now protects): older output unchanged.
        if !plan.notices.isEmpty {
            var notices = container.nestedUnkeyedContainer(forKey: .notices)
            for note in plan.notices { try encodeNote(note, into: &notices) }
        }
        if let result {
            try container.encode(result.outcome.rawValue, forKey: .outcome)
            try container.encode(result.failure?.message, forKey: .failure)
            var executed = container.nestedUnkeyedContainer(forKey: .executed)
            for record in result.steps { try Self.encode(record, into: &executed) }
            var rollback = container.nestedUnkeyedContainer(forKey: .rollback)
            for record in result.rollback { try Self.encode(record, into: &rollback) }
        }
    }

    private func encodeNote(_ note: Plan.Note, into container: inout UnkeyedEncodingContainer) throws {
        var nested = container.nestedContainer(keyedBy: NoteKeys.self)
        try nested.encode(note.address, forKey: .device)
        try nested.encode(note.reason, forKey: .reason)
    }

    static func encode(_ step: PlanStep, into container: inout KeyedEncodingContainer<StepKeys>) throws {
        try container.encode(step.address, forKey: .device)
        let (action, expect): (String, String?) = switch step.action {
        case .setDriverOverride: ("driver_override", nil)
        case .unbind: ("unbind", nil)
        case .probe(let expect): ("drivers_probe", expect)
        case .bind(let driver): ("bind", driver)
        case .setDriversAutoprobe: ("sriov_drivers_autoprobe", nil)
        case .setNumVFs: ("sriov_numvfs", nil)
        }
        try container.encode(action, forKey: .action)
        try container.encode(step.attributePath, forKey: .path)
        try container.encode(step.value.hasSuffix("\n") ? String(step.value.dropLast()) : step.value, forKey: .value)
        try container.encode(expect, forKey: .expect)
    }

    static func encode(_ record: StepRecord, into container: inout UnkeyedEncodingContainer) throws {
        var nested = container.nestedContainer(keyedBy: StepKeys.self)
        try encode(record.step, into: &nested)
        try nested.encode(record.driverBefore, forKey: .driver_before)
        try nested.encode(record.driverAfter, forKey: .driver_after)
        try nested.encode(Double(record.durationNanoseconds) / 1_000_000, forKey: .duration_ms)
        try nested.encode(record.failure?.message, forKey: .error)
        try nested.encode(record.failure?.errno, forKey: .errno)
    }
}
