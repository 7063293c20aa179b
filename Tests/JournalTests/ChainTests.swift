import Foundation
@testable import Journal
import Testing

/// The hash chain: every kind of tampering is found and the record named.
@Suite struct ChainTests {
    @Test func anUntouchedJournalVerifies() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 20)
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "\(report.problems)")
            #expect(report.records == 20)
            #expect(report.firstSeq == 1 && report.lastSeq == 20)
        }
    }

    @Test func anEditedRecordIsNamed() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 10)
            let path = JournalDirectory(dir).current
            var all = try lines(of: path)
            #expect(all[3].contains("vm1"))
            all[3] = all[3].replacingOccurrences(of: "vm1", with: "vm2")
            try writeLines(all, to: path)
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.problems.count == 1)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .edited)
            #expect(problem.file == "journal.jsonl" && problem.line == 4 && problem.seq == 4)
        }
    }

    @Test func anEditedAndRehashedRecordIsNamedByTheLinkAfterIt() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 10)
            let path = JournalDirectory(dir).current
            var all = try lines(of: path)
            var record = try RecordCodec.decode(Array(all[3].utf8))
            record.host = "elsewhere"
            all[3] = String(decoding: try RecordCodec.encodeLine(record).line, as: UTF8.self)
            try writeLines(all, to: path)
            let report = try JournalVerifier.verify(directory: dir)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .relinked)
            #expect(problem.line == 4 && problem.seq == 4)
        }
    }

    @Test func aDeletedRecordIsNamed() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 10)
            let path = JournalDirectory(dir).current
            var all = try lines(of: path)
            all.remove(at: 4)   // seq 5
            try writeLines(all, to: path)
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.problems.count == 1)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .missing)
            #expect(problem.line == 5 && problem.seq == 6)
            #expect(problem.message.contains("record seq 5 is missing"))
        }
    }

    @Test func reorderedRecordsAreNamed() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 10)
            let path = JournalDirectory(dir).current
            var all = try lines(of: path)
            all.swapAt(2, 3)   // seq 4 now on line 3, seq 3 on line 4
            try writeLines(all, to: path)
            let report = try JournalVerifier.verify(directory: dir)
            #expect(!report.problems.isEmpty)
            #expect(report.problems.allSatisfy { $0.kind == .reordered }, "\(report.problems)")
            let problem = try #require(report.problems.first)
            #expect(problem.line == 3 && problem.seq == 4)
        }
    }

    @Test func aTruncatedEndIsFound() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 10)
            let path = JournalDirectory(dir).current
            let all = try lines(of: path)
            try writeLines(Array(all.prefix(7)), to: path)
            let report = try JournalVerifier.verify(directory: dir)
            let problem = try #require(report.problems.first)
            #expect(report.problems.count == 1)
            #expect(problem.kind == .truncated)
            #expect(problem.line == 7 && problem.seq == 7)
            #expect(problem.message.contains("8...10"))
        }
    }

    @Test func aLineCutMidwayIsATornTail() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 5)
            let path = JournalDirectory(dir).current
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try data.prefix(data.count - 40).write(to: URL(fileURLWithPath: path))
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.problems.map(\.kind) == [.torn, .truncated])
            #expect(report.problems[0].line == 5)
        }
    }

    @Test func aRecordRemovedFromTheStartIsFound() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 5)
            let path = JournalDirectory(dir).current
            try writeLines(Array(try lines(of: path).dropFirst()), to: path)
            let report = try JournalVerifier.verify(directory: dir)
            let problem = try #require(report.problems.first)
            #expect(problem.line == 1 && problem.seq == 2)
            #expect(problem.kind == .missing)
        }
    }

    @Test func garbageInTheMiddleIsMalformed() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 5)
            let path = JournalDirectory(dir).current
            var all = try lines(of: path)
            all.insert("hello", at: 2)
            try writeLines(all, to: path)
            let report = try JournalVerifier.verify(directory: dir)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .malformed && problem.line == 3)
        }
    }
}
