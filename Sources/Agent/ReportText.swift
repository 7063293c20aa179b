import Enforcement
import Sysfs
import Topology

/// One line per thing the engine did, for `simulate`, `assign`, `release` and the agent's log.
/// Each line goes through ``escapedForTerminal(_:)`` once it is composed: a driver name, an owner or an error
/// message read from sysfs cannot start a new line or reach the terminal as a control sequence.
public enum ReportText {
    public static func lines(_ report: Engine.Report) -> [String] {
        composedLines(report).map(escapedForTerminal)
    }

    static func composedLines(_ report: Engine.Report) -> [String] {
        var lines: [String] = []
        if let event = report.event {
            switch event {
            case .device(let device):
                let seqnum = device.seqnum.map { "#\($0) " } ?? ""
                lines.append("udev \(seqnum)\(device.action.rawValue) \(device.address)" + (device.driver.map { " driver=\($0)" } ?? ""))
            case .overflow:
                lines.append("udev: events were lost (ENOBUFS); full rescan")
            }
        }
        for (plan, result) in report.actions {
            lines += composedPlanLines(plan, result)
        }
        for (group, from, status) in report.states {
            let owner = status.owner.map { " (\($0))" } ?? ""
            var line = "group \(group)\(owner): \(from?.rawValue ?? "new") → \(status.state.rawValue)"
            if !status.reasons.isEmpty && status.state != .isolated { line += ": " + status.reasons.joined(separator: "; ") }
            lines.append(line)
        }
        lines += report.notes.map { "note: \($0)" }
        return lines
    }

    public static func planLines(_ plan: Plan, _ result: ExecutionResult) -> [String] {
        composedPlanLines(plan, result).map(escapedForTerminal)
    }

    static func composedPlanLines(_ plan: Plan, _ result: ExecutionResult) -> [String] {
        var lines: [String] = []
        let subject = plan.targets.map(\.description).joined(separator: ", ")
        let title: String
        switch plan.kind {
        case .assign: title = "assign \(subject) to \(plan.owner ?? "?")" + (plan.group.map { " (group \($0))" } ?? "")
        case .release: title = releaseTitle(plan) + (plan.group.map { " (group \($0))" } ?? "")
        case .enforce:
            let unbinds = plan.steps.compactMap { step -> String? in
                if case .unbind(let driver) = step.action { return driver }
                return nil
            }
            let holder = plan.owner.map { " assigned to \($0)" } ?? ""
            title = unbinds.isEmpty
                ? "isolate \(subject)\(holder) before any host driver claims it"
                : "violation: \(unbinds.joined(separator: ", ")) claimed \(subject)\(holder)"
        case .sriov: title = "[[sriov]] rule for \(subject)"
        }
        if plan.isRefused {
            lines.append("\(title): refused")
            lines += plan.refusals.map { "    - \($0)" }
            return lines
        }
        let total = result.steps.reduce(UInt64(0)) { $0 + $1.durationNanoseconds }
        switch result.outcome {
        case .completed:
            lines.append("\(title): done, \(result.steps.count) step\(result.steps.count == 1 ? "" : "s") in \(milliseconds(total))")
        case .rolledBack:
            lines.append("\(title): failed and rolled back: \(result.failure?.message ?? "?")")
        case .rollbackIncomplete:
            lines.append("\(title): failed, and rolling back failed too: \(result.failure?.message ?? "?")")
        case .refused:
            lines.append("\(title): not carried out: \(result.failure?.message ?? "?")")
        case .journalFailed:
            lines.append("\(title): stopped, the journal failed (no further write, no rollback; crash recovery takes it over): \(result.failure?.message ?? "?")")
        }
        for record in result.steps {
            let drivers = "\(record.driverBefore ?? "-") → \(record.driverAfter ?? "-")"
            lines.append("    \(record.step) [\(drivers), \(milliseconds(record.durationNanoseconds))]" + (record.failure.map { " FAILED: \($0.message)" } ?? ""))
        }
        for record in result.rollback {
            lines.append("    rollback: \(record.step)" + (record.failure.map { " FAILED: \($0.message)" } ?? ""))
        }
        for note in plan.unchanged { lines.append("    unchanged: \(note)") }
        for note in plan.notices { lines.append("    note: \(note)") }
        return lines
    }

    /// What a release plan is about: `release 0000:03:01.0 from vm1`, `release 0000:03:01.0` (held by nobody
    /// known), `release everything vm1 holds` (`--owner` alone).
    public static func releaseTitle(_ plan: Plan) -> String {
        let subject = plan.targets.map(\.description).joined(separator: ", ")
        switch (subject.isEmpty, plan.owner) {
        case (true, let owner?): return "release everything \(owner) holds"
        case (true, nil): return "release"
        case (false, let owner?): return "release \(subject) from \(owner)"
        case (false, nil): return "release \(subject)"
        }
    }

    /// `1.23 ms`.
    public static func milliseconds(_ nanoseconds: UInt64) -> String {
        let tenths = (nanoseconds + 5_000) / 10_000
        return "\(tenths / 100).\(String(tenths % 100).leftPadded(to: 2)) ms"
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
