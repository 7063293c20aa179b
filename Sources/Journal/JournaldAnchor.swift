#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The journal's anchor outside itself: the systemd journal.
///
/// The hash chain has no key: it shows an edited, removed or reordered record, but whoever can write the journal
/// directory (root) can rewrite the whole chain consistently. Every durable record is also mirrored to journald
/// with its seq and hash (`VFIO_WARDEN_SEQ`, `VFIO_WARDEN_HASH`, `VFIO_WARDEN_JOURNAL`: see ``JournalMirror``), so a
/// rewrite shows as records whose hash differs from the copy journald took when they were written. journald's
/// own files can be sealed (Forward Secure Sealing: `journalctl --setup-keys`, `journalctl --verify`), which
/// makes rewriting both consistently detectable too.
public enum JournaldAnchor {
    /// One record as journald holds it.
    public struct Entry: Sendable, Equatable {
        public var seq: UInt64
        public var hash: String
        /// The journal directory that wrote it, when the mirror said.
        public var journal: String?
        public init(seq: UInt64, hash: String, journal: String? = nil) { self.seq = seq; self.hash = hash; self.journal = journal }
    }

    /// The `journalctl` arguments that print our records as `entries(fromJSONLines:)` reads them.
    public static let journalctlArguments = ["-o", "json", "--all", "--no-pager",
                                             "--output-fields=VFIO_WARDEN_SEQ,VFIO_WARDEN_HASH,VFIO_WARDEN_JOURNAL",
                                             "SYSLOG_IDENTIFIER=vfio-warden"]

    /// The records in `journalctl -o json` output (one JSON object per line) that carry a seq and hash; lines
    /// that are not such objects are skipped. When `journal` is given, entries that name another journal
    /// directory are left out (entries that name none, from mirrors before the field existed, are kept).
    public static func entries(fromJSONLines data: [UInt8], journal: String? = nil) -> [Entry] {
        var result: [Entry] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let fields = try? JSONDecoder().decode(Fields.self, from: Data(line)),
                  let seqText = fields.seq?.text, let seq = UInt64(seqText), let hash = fields.hash?.text else { continue }
            let from = fields.journal?.text
            if let journal, let from, from != journal { continue }
            result.append(Entry(seq: seq, hash: hash, journal: from))
        }
        return result
    }

    /// Compares the journal in `directory` with `entries`: each record journald holds must be in the journal with
    /// the same hash, and the journal must reach the last one journald holds. Problems are of kind `anchor`.
    public static func check(directory: String, against entries: [Entry], into report: inout VerifyReport) throws {
        let label = "journald"
        guard !entries.isEmpty else {
            report.problems.append(VerifyProblem(kind: .anchor, file: label, line: 0, seq: nil,
                message: "journald holds no vfio-warden record of this journal (mirror off, or its records rotated away): nothing anchors the chain"))
            return
        }
        var expected: [UInt64: String] = [:]
        for entry in entries { expected[entry.seq] = entry.hash }
        var present = Set<UInt64>()
        var first: UInt64?
        var last: UInt64 = 0
        try JournalReader(directory: directory).forEachItem { item in
            let record: JournalRecord, line: JournalLine
            switch item {
            case .record(let r, let l), .edited(let r, let l): record = r; line = l
            default: return true
            }
            if first == nil { first = record.seq }
            last = max(last, record.seq)
            guard let hash = expected[record.seq] else { return true }
            present.insert(record.seq)
            if hash != record.hash {
                report.problems.append(VerifyProblem(kind: .anchor, file: JournalVerifier.name(line.file), line: line.lineNumber, seq: record.seq,
                    message: "record seq \(record.seq) (\(record.kind.rawValue)) is not the record journald took when it was written "
                        + "(hash \(hash.prefix(16))... there, \(record.hash.prefix(16))... here): the journal was rewritten"))
            }
            return true
        }
        let held = expected.keys.sorted()
        let beyond = held.filter { $0 > last }
        if let low = beyond.first, let high = beyond.last {
            report.problems.append(VerifyProblem(kind: .anchor, file: JournalDirectory.currentName, line: 0, seq: last,
                message: "journald holds records seq \(low)...\(high) that the journal, ending at seq \(last), does not: records were removed from its end"))
        }
        let missing = held.filter { $0 <= last && $0 >= (first ?? 0) && !present.contains($0) }
        if !missing.isEmpty {
            report.problems.append(VerifyProblem(kind: .anchor, file: label, line: 0, seq: missing.first,
                message: "\(missing.count) record\(missing.count == 1 ? "" : "s") journald holds (from seq \(missing[0])) are not in the journal: removed"))
        }
        let older = held.filter { $0 < (first ?? 0) }.count
        if older > 0 { report.notes.append("\(older) record(s) journald holds are older than the journal's first: removed by retention") }
        let unmirrored = Int(last) - Int(held.filter { $0 <= last }.last ?? 0)
        if unmirrored > 0 {
            report.notes.append("the last \(unmirrored) record(s) are not in journald (mirror off, or not yet forwarded): not anchored")
        }
        report.notes.append("anchored: \(present.count) record(s) match the copies journald holds")
    }

    struct Fields: Decodable {
        var seq: Field?
        var hash: Field?
        var journal: Field?
        enum CodingKeys: String, CodingKey {
            case seq = "VFIO_WARDEN_SEQ", hash = "VFIO_WARDEN_HASH", journal = "VFIO_WARDEN_JOURNAL"
        }
    }

    /// journalctl prints a field as a string, as an array of bytes (not valid UTF-8), or as an array (repeated).
    struct Field: Decodable {
        var text: String?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                text = s
            } else if let bytes = try? c.decode([UInt8].self) {
                text = String(decoding: bytes, as: UTF8.self)
            } else if let many = try? c.decode([String].self) {
                text = many.first
            } else {
                text = nil
            }
        }
    }
}
