import Foundation
import Journal
import Testing

/// The journal on a full file system: a failed write refuses its batch, and once space returns the writer takes
/// records again by itself, with the chain unbroken.
@Suite struct FullDiskTests {
    @Test func aWriterRefusesRecordsWhileTheDiskIsFullAndTakesThemAgainWhenSpaceReturns() async throws {
        try await withTemporaryDirectory { dir in
            let faults = JournalFaults()
            var options = writerOptions()
            options.faults = faults
            let writer = try JournalWriter(directory: dir, options: options)
            try await writer.append(sampleEvent(.agentStarted))
            faults.fill()
            for _ in 0..<3 {
                await #expect {
                    try await writer.append(sampleEvent(.eventSeen))
                } throws: { error in
                    (error as? JournalError)?.errno == .noSpace && (error as? JournalError)?.operation == "write"
                }
            }
            faults.heal()
            let after = try await writer.append(sampleEvent(.agentStopped))
            #expect(after.seq == 2, "the refused records took no sequence numbers")
            writer.close()
            let records = try JournalReader(directory: dir).records()
            #expect(records.map(\.kind) == [.agentStarted, .agentStopped])
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }

    @Test func aWriteCutShortByAFullDiskLeavesOnlyWholeRecords() async throws {
        try await withTemporaryDirectory { dir in
            let faults = JournalFaults()
            var options = writerOptions()
            options.faults = faults
            let writer = try JournalWriter(directory: dir, options: options)
            try await writer.append(sampleEvent(.agentStarted))
            // Bytes of a batch that reached the file before the failure are cut away before the next write.
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/journal.jsonl")[.size] as? Int ?? 0
            let handle = try #require(FileHandle(forWritingAtPath: dir + "/journal.jsonl"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"seq":2,"partial"#.utf8))
            try handle.close()
            faults.fill()
            await #expect(throws: JournalError.self) { try await writer.append(sampleEvent(.eventSeen)) }
            faults.heal()
            try await writer.append(sampleEvent(.agentStopped))
            writer.close()
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
            let grown = try FileManager.default.attributesOfItem(atPath: dir + "/journal.jsonl")[.size] as? Int ?? 0
            #expect(grown > size)
            #expect(try JournalReader(directory: dir).records().count == 2)
        }
    }
}
