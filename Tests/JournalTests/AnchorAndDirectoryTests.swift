import Foundation
import Journal
import Sysfs
import Testing

/// What journald would print for our records (`journalctl -o json`), from the fields the mirror sends.
func journaldJSON(_ records: [JournalRecord], journal: String) throws -> [UInt8] {
    var out: [UInt8] = []
    for record in records {
        var object: [String: String] = [:]
        for (name, value) in JournalMirror.fields(for: record, line: nil, journal: journal) where object[name] == nil {
            object[name] = String(decoding: value, as: UTF8.self)
        }
        out += Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        out.append(UInt8(ascii: "\n"))
    }
    return out
}

@Suite struct JournaldAnchorTests {
    @Test func aJournalThatMatchesJournaldIsAnchored() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: 20)
            var report = try JournalVerifier.verify(directory: dir)
            let entries = JournaldAnchor.entries(fromJSONLines: try journaldJSON(written, journal: JournalDirectory(dir).resolvedPath),
                                                 journal: JournalDirectory(dir).resolvedPath)
            #expect(entries.count == 20)
            try JournaldAnchor.check(directory: dir, against: entries, into: &report)
            #expect(report.isIntact, "\(report.problems)")
            #expect(report.notes.contains { $0.contains("20 record(s) match") })
        }
    }

    /// Root rewrites the whole chain consistently (every hash recomputed): the chain verifies, the anchor does not.
    @Test func aConsistentlyRewrittenChainVerifiesButNotAgainstJournald() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: 10)
            let anchor = try journaldJSON(written, journal: JournalDirectory(dir).resolvedPath)
            // The forger: record 4 says another owner, and every hash from there on is recomputed.
            var prev = JournalRecord.genesisHash
            var lines: [String] = []
            for var record in written {
                record.prev = prev
                if record.seq == 4 { record.host = "forged" }
                let (line, hash) = try RecordCodec.encodeLine(record)
                prev = hash
                lines.append(String(decoding: line, as: UTF8.self))
            }
            try writeLines(lines, to: dir + "/journal.jsonl")
            try "{\"seq\":10,\"hash\":\"\(prev)\",\"first\":1}\n".write(toFile: dir + "/journal.head", atomically: false, encoding: .utf8)
            var report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "the rewrite is consistent: the chain alone cannot tell: \(report.problems)")
            try JournaldAnchor.check(directory: dir, against: JournaldAnchor.entries(fromJSONLines: anchor), into: &report)
            #expect(report.problems.map(\.kind).allSatisfy { $0 == .anchor })
            #expect(report.problems.first?.seq == 4, "\(report.problems)")
            #expect(report.problems.count == 7, "seq 4...10 differ: \(report.problems)")
        }
    }

    @Test func recordsCutFromTheEndShowAgainstJournald() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: 6)
            let anchor = try journaldJSON(written, journal: dir)
            let kept = try lines(of: dir + "/journal.jsonl").prefix(4)
            try writeLines(Array(kept), to: dir + "/journal.jsonl")
            try FileManager.default.removeItem(atPath: dir + "/journal.head")
            var report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "without the head, a cut end looks whole to the chain")
            try JournaldAnchor.check(directory: dir, against: JournaldAnchor.entries(fromJSONLines: anchor), into: &report)
            #expect(report.problems.contains { $0.kind == .anchor && $0.message.contains("seq 5...6") }, "\(report.problems)")
        }
    }

    @Test func entriesOfAnotherJournalDirectoryAreLeftOut() throws {
        let mine = #"{"VFIO_WARDEN_SEQ":"1","VFIO_WARDEN_HASH":"aa","VFIO_WARDEN_JOURNAL":"/var/lib/vfio-warden/journal"}"#
        let other = #"{"VFIO_WARDEN_SEQ":"1","VFIO_WARDEN_HASH":"bb","VFIO_WARDEN_JOURNAL":"/tmp/other"}"#
        let old = #"{"VFIO_WARDEN_SEQ":["2"],"VFIO_WARDEN_HASH":[99,99]}"#
        let entries = JournaldAnchor.entries(fromJSONLines: Array("\(mine)\nnot json\n\(other)\n\(old)\n".utf8),
                                             journal: "/var/lib/vfio-warden/journal")
        #expect(entries == [JournaldAnchor.Entry(seq: 1, hash: "aa", journal: "/var/lib/vfio-warden/journal"),
                            JournaldAnchor.Entry(seq: 2, hash: "cc")])
    }

    @Test func noRecordInJournaldIsNotAnAnchor() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 2)
            var report = try JournalVerifier.verify(directory: dir)
            try JournaldAnchor.check(directory: dir, against: [], into: &report)
            #expect(report.problems.map(\.kind) == [.anchor])
        }
    }
}

@Suite struct JournalDirectorySafetyTests {
    @Test func aJournalFileThatIsASymbolicLinkIsRefusedAndItsTargetUntouched() async throws {
        try await withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
            try "precious\n".write(toFile: dir + "/target", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: dir + "/journal/journal.jsonl", withDestinationPath: dir + "/target")
            #expect {
                _ = try JournalWriter(directory: dir + "/journal", options: writerOptions())
            } throws: { error in
                guard let error = error as? JournalError else { return false }
                return error.path.hasSuffix("journal.jsonl") && error.errno == .tooManySymbolicLinkLevels
            }
            #expect(try String(contentsOfFile: dir + "/target", encoding: .utf8) == "precious\n")
        }
    }

    @Test func aDanglingSymbolicLinkIsNotCreatedThrough() async throws {
        try await withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/journal", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: dir + "/journal/journal.head", withDestinationPath: dir + "/planted")
            #expect(throws: JournalError.self) { _ = try JournalWriter(directory: dir + "/journal", options: writerOptions()) }
            #expect(!FileManager.default.fileExists(atPath: dir + "/planted"))
        }
    }

    @Test(arguments: [0o777, 0o770, 0o757])
    func aJournalDirectoryOthersCanWriteIsRefusedNamingItsPathAndMode(_ mode: Int) async throws {
        try await withTemporaryDirectory { dir in
            let journal = dir + "/journal"
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            chmod(journal, mode_t(mode))
            #expect {
                _ = try JournalWriter(directory: journal, options: writerOptions())
            } throws: { error in
                let text = "\(error)"
                return text.contains(journal) && text.contains("mode 0" + String(mode, radix: 8)) && text.contains("can be written by")
            }
            #expect(!FileManager.default.fileExists(atPath: journal + "/journal.jsonl"))
        }
    }

    @Test func aJournalUnderADirectoryOthersCanWriteIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/open", withIntermediateDirectories: true)
            chmod(dir + "/open", 0o777)
            #expect {
                _ = try JournalWriter(directory: dir + "/open/journal", options: writerOptions())
            } throws: { error in "\(error)".contains(dir + "/open (mode 0777") }
        }
    }

    @Test func newDirectoriesAreMadePrivateAndTheJournalOpens() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir + "/a/b/journal", options: writerOptions())
            try await writer.append(sampleEvent(.agentStarted))
            writer.close()
            var st = stat()
            #expect(stat(dir + "/a/b/journal", &st) == 0 && st.st_mode & 0o777 == 0o750)
        }
    }
}
