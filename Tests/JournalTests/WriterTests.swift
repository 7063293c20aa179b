import Foundation
@testable import Journal
import Synchronization
import SystemPackage
import Testing

@Suite struct WriterTests {
    @Test func appendReturnsTheDurableRecordWithSeqAndChain() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: RecordKind.allCases.count)
            #expect(written.map(\.seq) == Array(1...UInt64(RecordKind.allCases.count)))
            #expect(written[0].prev == JournalRecord.genesisHash)
            for (a, b) in zip(written, written.dropFirst()) { #expect(b.prev == a.hash) }
            #expect(written.allSatisfy { $0.host == "testhost" })
            // Every kind, read back from disk, equals what append returned.
            let read = try JournalReader(directory: dir).records()
            #expect(read == written)
            #expect(Set(read.map(\.kind)) == Set(RecordKind.allCases))
            #expect(JournalDirectory(dir).readHead() == JournalHead(seq: written.last!.seq, hash: written.last!.hash, first: 1))
        }
    }

    @Test func reopeningContinuesTheChain() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 3)
            let more = try await writeRecords(dir, count: 3)
            #expect(more.map(\.seq) == [4, 5, 6])
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }

    @Test func aSecondWriterIsRefusedUntilTheFirstCloses() async throws {
        try await withTemporaryDirectory { dir in
            let first = try JournalWriter(directory: dir, options: writerOptions())
            #expect {
                _ = try JournalWriter(directory: dir, options: writerOptions())
            } throws: { error in
                guard let error = error as? JournalError else { return false }
                return error.kind == .locked && error.path.hasSuffix("journal.lock") && error.errno == .wouldBlock
                    && error.description.contains("pid \(getpid())")
            }
            try await first.append(sampleEvent(.agentStarted))
            first.close()
            await #expect(throws: JournalError.self) { try await first.append(sampleEvent(.agentStopped)) }
            let second = try JournalWriter(directory: dir, options: writerOptions())
            #expect(try await second.append(sampleEvent(.agentStopped)).seq == 2)
            second.close()
        }
    }

    @Test func aSecondWriterProcessIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            defer { writer.close() }
            // flock(1) from util-linux, in another process, on the same lock file.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { return }
            process.arguments = ["--nonblock", "--exclusive", JournalDirectory(dir).lockFile, "true"]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus != 0)
        }
    }

    @Test func concurrentAppendsAreSerialisedIntoOneValidChain() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions(clock: nil))
            let count = 400
            let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for i in 0..<count {
                    group.addTask {
                        let kind = RecordKind.allCases[i % RecordKind.allCases.count]
                        return try await writer.append(sampleEvent(kind), cause: .udev(seqnum: UInt64(i), action: "bind")).seq
                    }
                }
                return try await group.reduce(into: [UInt64]()) { $0.append($1) }
            }
            #expect(seqs.sorted() == Array(1...UInt64(count)))
            #expect(writer.commitCount <= count)
            writer.close()
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "\(report.problems)")
            #expect(report.records == count)
            // Times never run backwards along the sequence.
            let records = try JournalReader(directory: dir).records()
            for (a, b) in zip(records, records.dropFirst()) {
                #expect(a.realtimeMicros <= b.realtimeMicros && a.monotonicNanos <= b.monotonicNanos)
            }
        }
    }

    @Test func recordsThatArriveTogetherShareOneCommit() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            // Hold the commit queue so that every append below is pending at once.
            let gate = DispatchSemaphore(value: 0)
            writer.queue.async { gate.wait() }
            let done = Mutex(0)
            let all = DispatchSemaphore(value: 0)
            for i in 0..<50 {
                writer.submit(sampleEvent(.eventSeen), cause: .udev(seqnum: UInt64(i), action: "add")) { result in
                    if case .success = result { done.withLock { $0 += 1 } }
                    all.signal()
                }
            }
            #expect(writer.commitCount == 0)
            gate.signal()
            for _ in 0..<50 { all.wait() }
            #expect(done.withLock { $0 } == 50)
            #expect(writer.commitCount == 1)
            writer.close()
        }
    }

    @Test func appendAndWaitWorksOutsideAsyncCode() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            let record = try writer.appendAndWait(sampleEvent(.actionPlanned), cause: .policy(rule: "r"))
            #expect(record.seq == 1)
            #expect(writer.lastSequence == 1)
            writer.close()
        }
    }

    @Test func aTornTailIsReportedAndSetAsideWithEveryEarlierRecordKept() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: 6)
            let files = JournalDirectory(dir)
            // A crash mid-write: half of a seventh line.
            let seventh = JournalRecord(seq: 7, realtimeMicros: 1, monotonicNanos: 1, host: "h", cause: nil,
                                        event: sampleEvent(.stepStarted), prev: written.last!.hash)
            let half = Array(try RecordCodec.encodeLine(seventh).line.prefix(60))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: files.current))
            try handle.seekToEnd()
            try handle.write(contentsOf: half)
            try handle.close()

            let items = try collect(dir)
            guard case .tornTail(let line, _) = items.last else { Issue.record("torn tail not detected: \(items)"); return }
            #expect(line.lineNumber == 7)

            let writer = try JournalWriter(directory: dir, options: writerOptions())
            let recovery = try #require(writer.recovery)
            #expect(recovery.line == 7 && recovery.bytes == 60)
            #expect(recovery.setAsideAs.hasSuffix("journal.torn.1"))
            #expect(Array(FileManager.default.contents(atPath: recovery.setAsideAs)!) == half)
            let next = try await writer.append(sampleEvent(.agentStarted))
            writer.close()

            let records = try JournalReader(directory: dir).records()
            #expect(Array(records.prefix(6)) == written)
            guard case .recordRefused(let refused) = records[6].event else { Issue.record("no record_refused"); return }
            #expect(refused.setAsideAs == "journal.torn.1" && refused.bytes == 60)
            #expect(records[6].seq == 7 && next.seq == 8)
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }

    @Test func aLastLineOfGarbageWithANewlineIsAlsoTorn() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 2)
            let path = JournalDirectory(dir).current
            try writeLines(try lines(of: path) + [#"{"seq":3,"ti"#], to: path)
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            #expect(writer.recovery?.line == 3)
            writer.close()
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }

    @Test func rotationCarriesTheChainAcrossFiles() async throws {
        try await withTemporaryDirectory { dir in
            let written = try await writeRecords(dir, count: 60, options: writerOptions(maxFileBytes: 4096))
            let files = JournalDirectory(dir)
            let rotated = try files.rotatedNumbers()
            #expect(rotated.count >= 3)
            for path in try files.filesOldestFirst() {
                let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
                #expect(size <= 4096)
            }
            #expect(try JournalReader(directory: dir).records() == written)
            let firstOfCurrent = try RecordCodec.decode(Array(try lines(of: files.current)[0].utf8))
            let lastOfPrevious = try RecordCodec.decode(Array(try lines(of: files.rotated(1)).last!.utf8))
            #expect(firstOfCurrent.prev == lastOfPrevious.hash && firstOfCurrent.seq == lastOfPrevious.seq + 1)
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "\(report.problems)")
            #expect(report.files.last == "journal.jsonl" && report.files.count == rotated.count + 1)
        }
    }

    @Test func retentionKeepsTheNewestFilesAndTheChainStillVerifies() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 120, options: writerOptions(maxFileBytes: 2048, retained: 2))
            let files = JournalDirectory(dir)
            #expect(try files.rotatedNumbers() == [1, 2])
            let report = try JournalVerifier.verify(directory: dir)
            #expect(report.isIntact, "\(report.problems)")
            #expect(report.firstSeq! > 1 && report.lastSeq == 120)
            #expect(report.notes.contains { $0.contains("chain starts at seq \(report.firstSeq!)") })
        }
    }

    @Test func aFileRemovedFromTheMiddleOfARotationIsFound() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 60, options: writerOptions(maxFileBytes: 4096))
            let files = JournalDirectory(dir)
            try FileManager.default.removeItem(atPath: files.rotated(1))
            let report = try JournalVerifier.verify(directory: dir)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .missing && problem.file == "journal.jsonl" && problem.line == 1)
        }
    }

    @Test func reopeningRightAfterRotationChainsFromTheRotatedFile() async throws {
        try await withTemporaryDirectory { dir in
            try await writeRecords(dir, count: 30, options: writerOptions(maxFileBytes: 4096))
            let files = JournalDirectory(dir)
            // As if the agent stopped right after a rotation: the new journal.jsonl is empty.
            let last = try JournalReader(directory: dir).records().last!
            for n in try files.rotatedNumbers().reversed() {
                try FileManager.default.moveItem(atPath: files.rotated(n), toPath: files.rotated(n + 1))
            }
            try FileManager.default.moveItem(atPath: files.current, toPath: files.rotated(1))
            FileManager.default.createFile(atPath: files.current, contents: nil)
            let more = try await writeRecords(dir, count: 1)
            #expect(more[0].seq == last.seq + 1 && more[0].prev == last.hash)
        }
    }

    func collect(_ dir: String) throws -> [JournalItem] {
        var items: [JournalItem] = []
        try JournalReader(directory: dir).forEachItem { items.append($0); return true }
        return items
    }
}

@Suite struct WriterErrorTests {
    @Test func anUncreatableDirectoryNamesThePathAndErrno() async throws {
        try await withTemporaryDirectory { dir in
            FileManager.default.createFile(atPath: dir + "/file", contents: Data())
            #expect {
                _ = try JournalWriter(directory: dir + "/file/journal", options: writerOptions())
            } throws: { error in
                guard let error = error as? JournalError else { return false }
                return error.operation == "mkdir" && error.path == dir + "/file/journal" && error.errno == .notDirectory
            }
        }
    }
}

@Suite struct WriterFailureTests {
    @Test func afterAFailedWriteEveryAppendIsRefusedWithTheCause() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            try await writer.append(sampleEvent(.agentStarted))
            // Swap the file for one opened read-only: the next write(2) fails with EBADF. (Closing the fd instead
            // would let a test running alongside reuse its number.)
            let readOnly = try FileDescriptor.open("/dev/null", .readOnly)
            writer.queue.sync {
                try? writer.io.fd.close()
                writer.io.fd = readOnly
            }
            for _ in 0..<2 {
                await #expect {
                    try await writer.append(sampleEvent(.agentStopped))
                } throws: { error in
                    guard let error = error as? JournalError else { return false }
                    return error.operation == "write" && error.path.hasSuffix("journal.jsonl") && error.errno == .badFileDescriptor
                }
            }
            writer.close()
            #expect(try JournalReader(directory: dir).records().count == 1)
        }
    }
}
