import Foundation

/// What a load run measured and what it found wrong; ``problems`` empty means every check held.
public struct LoadReport: Sendable {
    public struct Round: Sendable {
        public var clients = 0
        public var requests = 0
        public var replies = 0
        /// Replies to well-formed requests whose exit code was not 0 (refused or failed plans), still answered.
        public var nonzeroExits = 0
        /// From the first request sent to the last reply read.
        public var seconds = 0.0
        /// Time for every client to have its connection accepted or queued.
        public var connectSeconds = 0.0
        public var latencyP50 = 0.0
        public var latencyP99 = 0.0
        public var latencyMax = 0.0
        /// p99 per request kind (status, list, plan, assign, truncatedJSON, unknownOperation).
        public var latencyP99ByKind: [String: Double] = [:]
        public var stormEvents = 0
        public var stormCycles = 0
        public var stormSeconds = 0.0
        public var claims = 0
        /// Until the event loop had handled everything the storm and the agent's own writes emitted.
        public var drainSeconds = 0.0
        public var residentKB = 0
        /// After `malloc_trim(0)`.
        public var residentKBTrimmed = 0
        /// Whether the storm was still running when the last client had its last reply.
        public var stormOutlastedClients = false
        public var repliesPerSecond: Double { seconds > 0 ? Double(replies) / seconds : 0 }
    }

    public var rounds: [Round] = []
    public var openFileLimit: UInt64 = 0
    public var residentKBAfterStart = 0
    public var peakResidentKB = 0
    public var deviceEventsHandled = 0
    public var overflows = 0
    public var gaps = 0
    public var lostEvents = 0
    public var resyncsJournaled = 0
    public var journalRecords = 0
    public var journalIntact = false
    public var assignedGroupDrivers: [String: String] = [:]
    public var vfDrivers: [String: String] = [:]
    public var problems: [String] = []

    /// The figures as Markdown, for Benchmarks/run and docs/benchmarks.md.
    public var markdown: String {
        var lines: [String] = []
        lines.append("| round | clients | requests | replies | seconds | replies/s | p50 | p99 | max | connect all | storm events (cycles) | storm s | claims | drain s | RSS after |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (number, round) in rounds.enumerated() {
            lines.append("| \(number + 1) | \(round.clients) | \(round.requests) | \(round.replies) | \(f(round.seconds)) | \(Int(round.repliesPerSecond)) | "
                         + "\(ms(round.latencyP50)) | \(ms(round.latencyP99)) | \(ms(round.latencyMax)) | \(f(round.connectSeconds)) s | "
                         + "\(round.stormEvents) (\(round.stormCycles)) | \(f(round.stormSeconds)) | \(round.claims) | \(f(round.drainSeconds)) | "
                         + "\(mb(round.residentKB)) |")
        }
        lines.append("")
        for (number, round) in rounds.enumerated() {
            lines.append("- p99 by request kind, round \(number + 1): " + round.latencyP99ByKind.sorted { $0.key < $1.key }.map { "\($0.key) \(ms($0.value))" }.joined(separator: ", "))
        }
        lines.append("- open-file limit (soft, raised to the hard limit): \(openFileLimit)")
        lines.append("- RSS after start: \(mb(residentKBAfterStart)); after each round: \(rounds.map { mb($0.residentKB) }.joined(separator: ", ")); "
                     + "after each round and malloc_trim(0): \(rounds.map { mb($0.residentKBTrimmed) }.joined(separator: ", ")); peak (VmHWM): \(mb(peakResidentKB))")
        lines.append("- the storm still ran when the last client was answered: \(rounds.map { $0.stormOutlastedClients ? "yes" : "no" }.joined(separator: ", "))")
        lines.append("- event loop: \(deviceEventsHandled) device events handled, \(overflows) overflows (ENOBUFS), \(gaps) runs of lost events (\(lostEvents) events), "
                     + "\(resyncsJournaled) resyncs journaled for overflows")
        lines.append("- replies with a nonzero exit code (answered, refused or failed): \(rounds.map { String($0.nonzeroExits) }.joined(separator: ", "))")
        lines.append("- journal: \(journalRecords) records, verify \(journalIntact ? "intact" : "NOT intact")")
        lines.append("- assigned group at the end: " + assignedGroupDrivers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("- VFs at the end: " + vfDrivers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("- checks: " + (problems.isEmpty ? "all held" : "\(problems.count) FAILED"))
        for problem in problems.prefix(20) { lines.append("  - \(problem)") }
        if problems.count > 20 { lines.append("  - … \(problems.count - 20) more") }
        return lines.joined(separator: "\n")
    }

    private func f(_ value: Double) -> String { String(format: "%.2f", value) }
    private func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
    private func mb(_ kB: Int) -> String { String(format: "%.1f MB", Double(kB) / 1024) }
}
