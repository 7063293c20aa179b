/// What is wrong with one place in the journal.
public struct VerifyProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A record whose content no longer matches its own hash.
        case edited
        /// A record whose hash was recomputed after an edit: the next record's link to it does not match.
        case relinked
        /// Sequence numbers missing: records removed.
        case missing
        /// A record out of sequence order.
        case reordered
        /// A sequence number seen twice.
        case duplicate
        /// The journal ends before the last record the writer committed.
        case truncated
        /// The last line is incomplete (a crash mid-write); the next writer sets it aside.
        case torn
        /// A line that is not a record.
        case malformed
        /// The first record of the journal does not start the chain.
        case badStart
        /// A plan (schema 2) whose outcome was never recorded: no `plan_finished` and no `recovery` for it.
        case unfinished
        /// The journal differs from the copies journald holds (`--against-journald`): rewritten or cut.
        case anchor
    }

    public var kind: Kind
    /// File name (not the full path) and line, from 1.
    public var file: String
    public var line: Int
    /// The seq of the record named, when there is one.
    public var seq: UInt64?
    public var message: String

    public var description: String {
        "\(file):\(line)" + (seq.map { " seq \($0)" } ?? "") + ": \(kind.rawValue): \(message)"
    }
}

/// The outcome of `journal verify`.
public struct VerifyReport: Sendable, Equatable {
    public var files: [String] = []
    public var records = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var problems: [VerifyProblem] = []
    /// Things worth knowing that are not faults (the chain starts after retention removed older files).
    public var notes: [String] = []
    public var isIntact: Bool { problems.isEmpty }
}

/// Checks the whole journal: each record's own hash, each link to the record before, sequence order
/// without gaps or repeats across rotated files, and the end against `journal.head`.
public enum JournalVerifier {
    public static func verify(directory: String) throws -> VerifyReport {
        let dir = JournalDirectory(directory)
        // The head is read before the files: the writer only moves it forward after the journal, so what we
        // then read of the journal reaches at least this far unless records were removed.
        let head = dir.readHead()
        var report = VerifyReport()
        report.files = try dir.filesOldestFirst().map(Self.name)
        struct Previous { var seq: UInt64; var hash: String; var file: String; var line: Int; var edited: Bool }
        var previous: Previous?
        var seen = Set<UInt64>()
        // Gaps, with the index of their problem, to re-read as reordering if the missing seqs turn up later.
        var gaps: [(range: ClosedRange<UInt64>, problem: Int, at: JournalLine, seq: UInt64)] = []
        // Schema 2 plans still waiting for their plan_finished (or a recovery record), by plan id.
        var openPlans: [UInt64: (plan: ActionPlan, line: JournalLine, seq: UInt64)] = [:]

        func add(_ kind: VerifyProblem.Kind, _ line: JournalLine, seq: UInt64?, _ message: String) {
            report.problems.append(VerifyProblem(kind: kind, file: name(line.file), line: line.lineNumber, seq: seq, message: message))
        }

        try JournalReader(directory: directory).forEachItem { item in
            let record: JournalRecord
            let line: JournalLine
            var edited = false
            switch item {
            case .malformed(let l, let reason):
                add(.malformed, l, seq: nil, "not a journal record: \(reason)")
                return true
            case .tornTail(let l, let reason):
                if l.file == dir.current {
                    add(.torn, l, seq: nil, "\(reason); the next writer start sets it aside")
                } else {
                    add(.malformed, l, seq: nil, "\(reason) in a rotated file, which was complete when rotated: cut")
                }
                return true
            case .edited(let r, let l):
                record = r; line = l; edited = true
                add(.edited, l, seq: r.seq, "record seq \(r.seq) (\(r.kind.rawValue)) was edited: its content does not match its hash")
            case .record(let r, let l):
                record = r; line = l
            }
            report.records += 1
            switch record.event {
            case .actionPlanned(let plan) where plan.endsWithPlanFinished: openPlans[plan.planID] = (plan, line, record.seq)
            case .planFinished(let end): openPlans[end.planID] = nil
            case .recovery(let recovery): openPlans[recovery.planID] = nil
            default: break
            }
            if report.firstSeq == nil { report.firstSeq = record.seq }
            report.lastSeq = record.seq
            if let p = previous {
                if record.seq == p.seq + 1 {
                    if record.prev != p.hash && !p.edited {
                        report.problems.append(VerifyProblem(kind: .relinked, file: p.file, line: p.line, seq: p.seq,
                            message: "record seq \(p.seq) was changed and re-hashed: seq \(record.seq) at \(line.location) links to a different record"))
                    }
                } else if record.seq <= p.seq {
                    if seen.contains(record.seq) {
                        add(.duplicate, line, seq: record.seq, "seq \(record.seq) appears again (after seq \(p.seq) at \(name(p.file)):\(p.line))")
                    } else {
                        add(.reordered, line, seq: record.seq, "seq \(record.seq) appears after seq \(p.seq) (\(name(p.file)):\(p.line)): records reordered")
                    }
                } else {
                    let missing = (p.seq + 1)...(record.seq - 1)
                    if !missing.allSatisfy(seen.contains) {
                        let what = missing.count == 1 ? "record seq \(missing.lowerBound) is" : "records seq \(missing.lowerBound)...\(missing.upperBound) are"
                        add(.missing, line, seq: record.seq, "\(what) missing before this record (after seq \(p.seq) at \(name(p.file)):\(p.line)): removed")
                        gaps.append((missing, report.problems.count - 1, line, record.seq))
                    }
                }
            } else {
                // The first record present: seq 1 starting the chain, or the oldest one retention kept.
                let expectedFirst = head?.first ?? 1
                if record.seq > expectedFirst {
                    let what = record.seq - 1 == expectedFirst ? "record seq \(expectedFirst) is" : "records seq \(expectedFirst)...\(record.seq - 1) are"
                    add(.missing, line, seq: record.seq, "\(what) missing before the first record: removed")
                } else if record.seq == 1 && record.prev != JournalRecord.genesisHash {
                    add(.badStart, line, seq: record.seq, "the first record does not start the chain")
                } else if record.seq > 1 {
                    report.notes.append("the chain starts at seq \(record.seq) in \(line.location): older files were removed by retention")
                }
            }
            seen.insert(record.seq)
            if let p = previous, record.seq < p.seq {
                // Keep following the chain from the later record so one swap is reported once.
                previous = Previous(seq: p.seq, hash: p.hash, file: p.file, line: p.line, edited: p.edited)
                return true
            }
            previous = Previous(seq: record.seq, hash: record.hash, file: line.file, line: line.lineNumber, edited: edited)
            return true
        }
        // A gap whose records turned up later was a reordering, not a removal.
        for gap in gaps where gap.range.allSatisfy(seen.contains) {
            report.problems[gap.problem] = VerifyProblem(kind: .reordered, file: name(gap.at.file), line: gap.at.lineNumber, seq: gap.seq,
                message: "seq \(gap.seq) appears before seq \(gap.range.lowerBound): records reordered")
        }
        for (id, open) in openPlans.sorted(by: { $0.value.seq < $1.value.seq }) {
            report.problems.append(VerifyProblem(kind: .unfinished, file: name(open.line.file), line: open.line.lineNumber, seq: open.seq,
                message: "plan \(id) (\(open.plan.planKind.rawValue), \(open.plan.reason)) has no recorded outcome (no plan_finished, no recovery): "
                    + "its records were lost (a full disk) or its process died (or is running it now); the agent's next start recovers it"))
        }
        if let head, let last = previous {
            if head.seq > last.seq {
                report.problems.append(VerifyProblem(kind: .truncated, file: name(last.file), line: last.line, seq: last.seq,
                    message: "the journal ends at seq \(last.seq) but the writer committed up to seq \(head.seq): records \(last.seq + 1)...\(head.seq) were cut off"))
            } else if head.seq == last.seq && head.hash != last.hash && !last.edited {
                report.problems.append(VerifyProblem(kind: .relinked, file: name(last.file), line: last.line, seq: last.seq,
                    message: "the last record does not match the hash the writer committed for seq \(head.seq): it was replaced"))
            }
        } else if let head, head.seq > 0, previous == nil {
            report.problems.append(VerifyProblem(kind: .truncated, file: JournalDirectory.currentName, line: 0, seq: nil,
                message: "the journal holds no records but the writer committed up to seq \(head.seq)"))
        }
        return report
    }

    static func name(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }
}
