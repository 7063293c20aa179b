import Enforcement
import Journal
#if canImport(Glibc)
import Glibc
#endif

/// A time when the journal refused records (a full or failing disk): since when, and what could not be recorded.
///
/// While it lasts, assign, release and `[[sriov]]` plans are refused before their first write (their intent cannot
/// be made durable), and enforcement goes on without its records (see `JournalObserver`); `status`, the metrics
/// and systemd's `STATUS=` say so. ``Engine/healJournal(cause:)`` ends it.
public struct JournalOutage: Sendable, Equatable {
    /// `CLOCK_REALTIME` microseconds of the first record lost.
    public var sinceMicros: Int64
    /// Records lost so far.
    public var lost = 0
    /// The first few, in words.
    public var examples: [String] = []

    static let examplesKept = 8

    public init(sinceMicros: Int64) { self.sinceMicros = sinceMicros }

    /// `the journal refuses records since 2026-12-07T17:20:00Z (3 lost): assign and release are refused until it takes them again`.
    public var summary: String {
        "the journal refuses records since \(JournalOutage.utc(sinceMicros)) (\(lost) lost): assign and release are refused, "
            + "enforcement goes on unrecorded, until it takes records again"
    }

    static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    static func utc(_ micros: Int64) -> String {
        var seconds = time_t(micros / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

extension PlanKind {
    /// The journal's kind of an executor plan.
    init(_ kind: Plan.Kind) {
        switch kind {
        case .assign: self = .assign
        case .release: self = .release
        case .enforce: self = .enforce
        case .sriov: self = .sriov
        }
    }
}

extension Engine {
    /// What `status` and `STATUS=` add while the journal refuses records, nil when it takes them.
    public var journalProblem: String? { journalOutage?.summary }

    /// Ends a journal outage once the journal takes records again: journals what was lost (a `record_refused`
    /// naming the span and the first records lost), then recovers the plans the outage interrupted, from the
    /// journal as at a start (``recoverInterruptedPlans(from:)``): a plan whose step or outcome could not be
    /// recorded is finished or undone, and the records that end its story written. Does nothing while the journal
    /// still refuses, or when there was no outage. Called before each request, event and resync.
    public func healJournal(cause: Cause = .agent("journal writable again")) async -> Report {
        var report = Report()
        guard let outage = journalOutage, let journal = configuration.journal, !isHealingJournal else { return report }
        isHealingJournal = true
        defer { isHealingJournal = false }
        let lost = RecordRefused(reason: "the journal refused records from \(JournalOutage.utc(outage.sinceMicros)) until now: "
                                 + "\(outage.lost) lost" + (outage.examples.isEmpty ? "" : ": " + outage.examples.joined(separator: "; ")),
                              lostRecords: outage.lost)
        do {
            try await journal.append(.recordRefused(lost), cause: cause)
        } catch {
            return report
        }
        clearJournalOutage()
        report.notes.append("journal: takes records again after \(outage.lost) were lost; recovering what the outage interrupted")
        do {
            let records = try JournalReader(directory: journal.directory.path).records()
            report.merge(await recoverInterruptedPlans(from: records))
        } catch {
            report.notes.append("journal: cannot read \(journal.directory.path) to recover what the outage interrupted: \(error)")
        }
        // Enforcement that went on unrecorded, and plans left to it: everything held, enforced against sysfs as it is.
        report.merge(await resync(cause: cause))
        return report
    }
}
