import Foundation
@testable import Journal
import Testing

@Suite struct ReaderTests {
    @Test func theFollowerSeesNewRecordsAcrossRotation() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 5, options: writerOptions(maxFileBytes: 4096))
            let follower = try JournalFollower(directory: dir)
            #expect(try follower.poll().isEmpty)
            let writer = try JournalWriter(directory: dir, options: writerOptions(maxFileBytes: 4096))
            var seen: [UInt64] = []
            for _ in 0..<40 {
                try await writer.append(sampleEvent(.eventSeen))
                seen += try follower.poll().map { try RecordCodec.decode($0.bytes).seq }
            }
            writer.close()
            seen += try follower.poll().map { try RecordCodec.decode($0.bytes).seq }
            #expect(try JournalDirectory(dir).rotatedNumbers().count >= 2)
            #expect(seen == Array(6...45))
        }
    }

    @Test func aHalfWrittenLineIsHeldBackUntilItIsWhole() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 1)
            let follower = try JournalFollower(directory: dir)
            let path = JournalDirectory(dir).current
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"half\":".utf8))
            #expect(try follower.poll().isEmpty)
            try handle.write(contentsOf: Data("1}\n".utf8))
            try handle.close()
            let lines = try follower.poll()
            #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == [#"{"half":1}"#])
            #expect(lines.first?.lineNumber == 2)
        }
    }

    @Test func linesAcrossReadChunksAreWhole() async throws {
        try await withTemporaryDirectory { dir in
            // Enough records that 64 KiB reads split lines.
            let written = try await writeRecords(dir, count: 400)
            #expect(try JournalReader(directory: dir).records() == written)
        }
    }
}
