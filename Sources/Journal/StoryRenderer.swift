import Foundation
import Sysfs

/// Human sentences for records: the `journal` story view and journald's `MESSAGE`.
public enum StoryRenderer {
    /// One sentence saying what the record says happened.
    public static func sentence(for record: JournalRecord) -> String {
        switch record.event {
        case .eventSeen(let e):
            let who = e.device?.description ?? e.devpath
            return "udev \(e.action) \(who)" + (e.driver.map { " (driver \($0))" } ?? "")
        case .groupStateChanged(let g):
            let from = g.from?.rawValue ?? "unknown"
            return "\(g.group.label) \(from) → \(g.to.rawValue)" + (g.owner.map { " (owner \($0))" } ?? "") + ": \(g.reason)"
        case .violationDetected(let v):
            return "\(v.driver) claimed \(v.device)" + (v.owner.map { " while assigned to \($0)" } ?? " in an assigned group")
        case .actionPlanned(let p):
            let steps = p.steps.map { step in
                "\(step.operation) \(step.device)" + (step.driverAfter.map { " → \($0)" } ?? "")
            }.joined(separator: ", ")
            return "plan \(p.planID) for \(p.group.label)" + (p.owner.map { " (owner \($0))" } ?? "")
                + ": \(p.reason); \(p.steps.count) step\(p.steps.count == 1 ? "" : "s"): \(steps)"
        case .stepStarted(let s):
            return "plan \(s.planID) step \(s.step): \(s.operation) \(s.device)" + (s.driverBefore.map { " (on \($0))" } ?? "")
        case .stepFinished(let s):
            let took = formatDuration(nanos: s.durationNanos)
            if !s.succeeded {
                let errnoText = s.errno.map { " (errno \($0))" } ?? ""
                return "plan \(s.planID) step \(s.step): \(s.operation) \(s.device) failed\(errnoText)"
                    + (s.error.map { ": \($0)" } ?? "") + " after \(took)"
            }
            let before = s.driverBefore ?? "no driver"
            let after = s.driverAfter ?? "no driver"
            return "plan \(s.planID) step \(s.step): \(s.operation) \(s.device) \(before) → \(after) in \(took)"
        case .assignmentMade(let a):
            return "\(a.group.label) assigned to \(a.owner)"
        case .assignmentReleased(let a):
            return "\(a.group.label) released by \(a.owner)"
        case .policyLoaded(let p):
            return "policy \(p.path) loaded (\(p.rules) rules, sha256 \(p.sha256.prefix(12)))"
        case .policyRejected(let p):
            let at = [p.line, p.column].compactMap { $0 }.map(String.init).joined(separator: ":")
            return "policy \(p.path)\(at.isEmpty ? "" : ":" + at) rejected: \(p.error)"
        case .agentStarted(let a):
            return "agent \(a.version) started (pid \(a.pid))"
        case .agentStopped(let a):
            return "agent stopped: \(a.reason)" + (a.inFlight.map { "; finished first: " + $0.joined(separator: ", ") } ?? "")
        case .agentResynced(let r):
            return "resynced with sysfs: \(r.changes) change\(r.changes == 1 ? "" : "s")" + (r.summary.isEmpty ? "" : " (\(r.summary))")
        case .recovery(let r):
            let devices = r.devices.map { step in "\(step.device)" + (step.driverBefore.map { " (was on \($0))" } ?? "") }
            return "crash recovery of plan \(r.planID) (\(r.reason)) for \(r.group.label): \(r.outcome.words)"
                + (devices.isEmpty ? "" : " [\(devices.joined(separator: ", "))]") + (r.detail.isEmpty ? "" : ": \(r.detail)")
        case .recordRefused(let r):
            return "record refused: \(r.reason)" + (r.setAsideAs.map { "; set aside as \($0)" } ?? "")
        case .planFinished(let f):
            return "plan \(f.planID) (\(f.kind.rawValue)) \(f.outcome.rawValue.replacingOccurrences(of: "_", with: " "))"
                + (f.failure.map { ": \($0)" } ?? "")
        case .planRefused(let r):
            return "\(r.kind) of \(r.targets.map(\.description).joined(separator: ", "))" + (r.owner.map { " (owner \($0))" } ?? "")
                + " refused, nothing written: " + r.reasons.joined(separator: "; ")
        case .flapping(let f):
            return "\(f.device) is flapping: taken back \(f.fights) times in \(Int(f.windowSeconds)) s"
                + (f.driver.map { " (by \($0))" } ?? "") + "; still repaired, each repair after \(f.backoffSeconds) s"
        }
    }

    /// Who or what asked: `[udev #1234 bind]`, `[uid 0 pid 812: assign ...]`, `[policy rule gpu-vm1]`.
    public static func causeText(_ cause: Cause?) -> String {
        guard let cause else { return "" }
        switch cause.source {
        case .udev:
            return "[udev" + (cause.seqnum.map { " #\($0)" } ?? "") + (cause.action.map { " \($0)" } ?? "") + "]"
        case .control:
            var text = "[" + [cause.uid.map { "uid \($0)" }, cause.pid.map { "pid \($0)" }].compactMap { $0 }.joined(separator: " ")
            if let request = cause.request { text += (text.count > 1 ? ": " : "") + request }
            return text + "]"
        case .policy:
            return "[policy" + (cause.rule.map { " rule \($0)" } ?? "") + "]"
        case .resync:
            return "[resync" + (cause.detail.map { ": \($0)" } ?? "") + "]"
        case .agent:
            return "[agent" + (cause.detail.map { ": \($0)" } ?? "") + "]"
        }
    }

    /// `850 µs`, `3.1 ms`, `1.20 s`.
    public static func formatDuration(nanos: UInt64) -> String {
        if nanos < 1_000_000 { return "\(nanos / 1000) µs" }
        if nanos < 1_000_000_000 { return String(format: "%.1f ms", Double(nanos) / 1e6) }
        return String(format: "%.2f s", Double(nanos) / 1e9)
    }

    /// The story of `records`, all shown (see `StoryWriter`).
    public static func story(_ records: [JournalRecord], timeZone: TimeZone = .current) -> [String] {
        var writer = StoryWriter(timeZone: timeZone)
        var lines: [String] = []
        for record in records { lines += writer.add(record) }
        return lines + writer.finish()
    }

    static func outcome(of violation: Violation, at record: JournalRecord, resolvedBy next: JournalRecord) -> String {
        guard case .stepFinished(let s) = next.event else { return "" }
        if !s.succeeded {
            return " → \(s.operation) failed" + (s.errno.map { " (errno \($0))" } ?? "") + (s.error.map { ": \($0)" } ?? "")
        }
        let after = s.driverAfter ?? "no driver"
        guard next.bootID == record.bootID, next.monotonicNanos >= record.monotonicNanos else { return " → rebound to \(after)" }
        return " → rebound to \(after) in \(formatDuration(nanos: next.monotonicNanos - record.monotonicNanos))"
    }

    /// Whether `record` ends `violation`: a failed step on its device, or one that put it on another driver.
    static func resolves(_ record: JournalRecord, _ violation: Violation) -> Bool {
        guard case .stepFinished(let s) = record.event, s.device == violation.device else { return false }
        return !s.succeeded || (s.driverAfter != nil && s.driverAfter != violation.driver)
    }

    static func localDayAndTime(_ micros: Int64, timeZone: TimeZone) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let date = Date(timeIntervalSince1970: Double(micros) / 1e6)
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let p = ISO8601Micros.pad
        return ("\(p(c.year ?? 0, 4))-\(p(c.month ?? 0, 2))-\(p(c.day ?? 0, 2))",
                "\(p(c.hour ?? 0, 2)):\(p(c.minute ?? 0, 2)):\(p(c.second ?? 0, 2))")
    }
}

/// Writes the story as records stream in: one line per shown record, local `HH:MM:SS` (a `-- YYYY-MM-DD --` line
/// when the day changes), the sentence and the cause. A violation's line also tells how it ended
/// (`→ rebound to vfio-pci in 3.1 ms`, from the violation to the step that moved the device off the host
/// driver), so its line waits until that step arrives; records that are not shown (filtered out) still count as
/// that context. Memory stays bounded: a violation waits at most `maxHeld` records.
public struct StoryWriter {
    public var timeZone: TimeZone
    public var maxHeld: Int
    var queue: [(record: JournalRecord, shown: Bool, outcome: String?)] = []
    var lastDay = ""

    public init(timeZone: TimeZone = .current, maxHeld: Int = 10_000) {
        self.timeZone = timeZone
        self.maxHeld = maxHeld
    }

    /// Takes the next record in journal order; returns the lines now ready.
    public mutating func add(_ record: JournalRecord, shown: Bool = true) -> [String] {
        for index in queue.indices where queue[index].outcome == nil {
            if case .violationDetected(let v) = queue[index].record.event, StoryRenderer.resolves(record, v) {
                queue[index].outcome = StoryRenderer.outcome(of: v, at: queue[index].record, resolvedBy: record)
            }
        }
        if shown || !queue.isEmpty { queue.append((record, shown, nil)) }
        return drain(force: queue.count > maxHeld)
    }

    /// Everything still held, violations without their outcome.
    public mutating func finish() -> [String] { drain(force: true, all: true) }

    mutating func drain(force: Bool, all: Bool = false) -> [String] {
        var lines: [String] = []
        var forced = force
        while let first = queue.first {
            if case .violationDetected = first.record.event, first.shown, first.outcome == nil, !forced, !all { break }
            queue.removeFirst()
            forced = false
            guard first.shown else { continue }
            let (day, time) = StoryRenderer.localDayAndTime(first.record.realtimeMicros, timeZone: timeZone)
            if day != lastDay {
                lines.append("-- \(day) --")
                lastDay = day
            }
            var text = "\(time) \(StoryRenderer.sentence(for: first.record))" + (first.outcome ?? "")
            let cause = StoryRenderer.causeText(first.record.cause)
            if !cause.isEmpty { text += " " + cause }
            // Owners, drivers and messages come from outside: never pass their control characters to the terminal.
            lines.append(escapedForTerminal(text))
        }
        return lines
    }
}
