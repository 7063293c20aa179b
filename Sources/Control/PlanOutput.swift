import Agent
import Enforcement
import Foundation
import Reports
import Sysfs

/// What `plan`, `assign` and `release` print, as text: the same whether the command acted directly or the agent did.
public enum PlanOutput {
    /// The plans (with their results once carried out) as text or as `--json` prints them.
    public static func render(_ plans: [Plan], results: [ExecutionResult?]? = nil, json: Bool) throws -> String {
        if json {
            let views = plans.enumerated().map { PlanJSON($0.element, result: results?[$0.offset] ?? nil) }
            return try JSONRendering.render(views)
        }
        var output = ""
        for (index, plan) in plans.enumerated() {
            if let result = results?[index] ?? nil {
                output += ReportText.planLines(plan, result).joined(separator: "\n") + "\n"
                continue
            }
            let subject = plan.targets.map(\.description).joined(separator: ", ")
            let group = plan.group.map { " (IOMMU group \($0))" } ?? ""
            if plan.isRefused {
                let title = plan.kind == .release ? ReportText.releaseTitle(plan) : "\(plan.kind.rawValue) \(subject)"
                output += escapedForTerminal("\(title)\(group): refused") + "\n" + plan.refusals.map { "  - \(escapedForTerminal("\($0)"))\n" }.joined()
                continue
            }
            var text = escapedForTerminal("\(plan.kind.rawValue) \(subject)\(group)" + (plan.owner.map { " for \($0)" } ?? "") + ": \(plan.steps.count) step\(plan.steps.count == 1 ? "" : "s")") + "\n"
            for (number, step) in plan.steps.enumerated() {
                text += escapedForTerminal("  \(number + 1). \(step)    (write \"\(withoutNewline(step.value))\" to \(step.attributePath))") + "\n"
            }
            for note in plan.unchanged { text += "  unchanged: \(escapedForTerminal("\(note)"))\n" }
            for note in plan.notices { text += "  note: \(escapedForTerminal("\(note)"))\n" }
            output += text
        }
        return output
    }

    private static func withoutNewline(_ text: String) -> String { text.hasSuffix("\n") ? String(text.dropLast()) : text }
}
