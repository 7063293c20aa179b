import Testing
import Foundation
import Journal
import Sysfs
@testable import Agent
@testable import Control

/// `policy_loaded` hashes the bytes that were parsed, not a second read of the file.
@Suite(.serialized) struct PolicyLoadedHashTests {
    /// The policy is a FIFO whose writer gives one text to the first reader and another to any second one: a
    /// second read of "the file" would hash what was never parsed.
    @Test func thePolicyLoadedHashIsOfTheBytesParsed() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let fifo = host.directory + "/policy.toml"
        #expect(mkfifo(fifo, 0o600) == 0)
        let parsed = "[manage]\ndevices = [\"0000:03:01.0\"]\n"
        let other = "# not what was parsed\n" + parsed
        let writer = Thread {
            func write(_ text: String, _ flags: Int32) -> Bool {
                let fd = open(fifo, flags)
                guard fd >= 0 else { return false }
                _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
                return true
            }
            _ = write(parsed, O_WRONLY)
            // Let the first reader reach the end of what was written before offering a second text.
            usleep(200_000)
            // A second reader, if one comes within a second, gets the other text.
            let deadline = Date().addingTimeInterval(1)
            while Date() < deadline {
                if write(other, O_WRONLY | O_NONBLOCK) { return }
                usleep(1000)
            }
        }
        writer.start()
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        let outcome = await PolicyReload.reload(engine: engine, journal: journal, path: fifo, sysfs: host.root,
                                                proc: SysfsRoot(host.directory + "/proc"))
        #expect(outcome.binding != nil, "\(outcome.message)")
        try await Task.sleep(for: .milliseconds(1100))
        journal.close()
        let loaded = try JournalReader(directory: host.journalDirectory).records().compactMap {
            if case .policyLoaded(let p) = $0.event { p } else { nil }
        }
        let expected = try sha256sum(parsed)
        #expect(loaded.map(\.sha256) == [expected])
    }

    /// `sha256sum` of `text` (the tests do not link swift-crypto).
    func sha256sum(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(String(decoding: data, as: UTF8.self).prefix(64))
    }
}
