import Foundation
import Testing

/// `journal verify` on a journal written before typed plans, against journald, and an agent start that cannot
/// read a retained journal file.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct TypedJournalCLITests {
    static let schemaOne = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../JournalTests/Fixtures/schema1").standardized.path

    static func copySchemaOne(to destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: schemaOne) {
            try FileManager.default.copyItem(atPath: schemaOne + "/" + name, toPath: destination + "/" + name)
        }
        chmod(destination, 0o750)
    }

    @Test func journalVerifyAndShowReadAJournalWrittenBeforeTypedPlans() throws {
        try CLI.withDirectory { directory in
            try Self.copySchemaOne(to: directory + "/journal")
            let verify = try CLI.run(["journal", "verify", "--journal", directory + "/journal"])
            #expect(verify.status == 0, "\(verify.output) \(verify.errors)")
            #expect(verify.output.contains("chain intact"))
            let show = try CLI.run(["journal", "show", "--journal", directory + "/journal"])
            #expect(show.status == 0 && show.output.contains("assign to vm1") && show.output.contains("release from vm1"), "\(show.output)")
        }
    }

    @Test func journalVerifyAgainstJournaldFindsARewrittenChain() throws {
        try CLI.withDirectory { directory in
            try Self.copySchemaOne(to: directory + "/journal")
            let journal = directory + "/journal"
            // journald's copy: the seq and hash of each record as written (what the mirror sent).
            let lines = try String(contentsOfFile: journal + "/journal.jsonl", encoding: .utf8).split(separator: "\n")
            var anchor = ""
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let entry: [String: Any] = ["VFIO_WARDEN_SEQ": "\(object["seq"]!)", "VFIO_WARDEN_HASH": object["hash"]!,
                                            "SYSLOG_IDENTIFIER": "vfio-warden"]
                anchor += String(decoding: try JSONSerialization.data(withJSONObject: entry), as: UTF8.self) + "\n"
            }
            try anchor.write(toFile: directory + "/journald.json", atomically: false, encoding: .utf8)
            let clean = try CLI.run(["journal", "verify", "--journal", journal, "--journald-json", directory + "/journald.json"])
            #expect(clean.status == 0, "\(clean.output) \(clean.errors)")
            #expect(clean.output.contains("anchored: \(lines.count) record(s)"), "\(clean.output)")

            // Root removes the last record and its head: the chain alone still verifies, journald does not agree.
            try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: journal + "/journal.jsonl", atomically: false, encoding: .utf8)
            try FileManager.default.removeItem(atPath: journal + "/journal.head")
            let chainOnly = try CLI.run(["journal", "verify", "--journal", journal])
            #expect(chainOnly.status == 0, "\(chainOnly.output)")
            let anchored = try CLI.run(["journal", "verify", "--journal", journal, "--journald-json", directory + "/journald.json"])
            #expect(anchored.status == 1, "\(anchored.output)")
            #expect(anchored.output.contains("anchor") && anchored.output.contains("removed from its end"), "\(anchored.output)")
        }
    }

    /// A retained journal file that cannot be read: the agent still starts, and says loudly (its log and the
    /// journal) that crash recovery was skipped, rather than skipping it silently.
    @Test func anUnreadableRetainedJournalFileIsReportedNotSilentlySkipped() throws {
        try CLI.withDirectory { directory in
            let fixture = try CrashFixture(directory: directory, operation: .assign)
            let host = CrashHost(directory: "\(directory)/host", fixture: fixture)
            try FileManager.default.createDirectory(atPath: host.directory, withIntermediateDirectories: true)
            try TreeCopy.copy(fixture.base, to: host.sys)
            try Self.copySchemaOne(to: host.directory + "/journal")
            // journal.2.jsonl (older, readable) keeps the writer's start working; journal.1.jsonl cannot be read.
            let journal = host.directory + "/journal"
            try FileManager.default.copyItem(atPath: journal + "/journal.jsonl", toPath: journal + "/journal.2.jsonl")
            try FileManager.default.createDirectory(atPath: journal + "/journal.1.jsonl", withIntermediateDirectories: false)
            let agent = try CLI.run(host.agentArguments, environment: host.environment)
            #expect(agent.status == 0, "\(agent.errors)")
            #expect(agent.errors.contains("crash recovery skipped: cannot read the journal"), "\(agent.errors)")
            let current = try String(contentsOfFile: journal + "/journal.jsonl", encoding: .utf8)
            #expect(current.contains("crash recovery skipped"), "\(current)")
        }
    }
}
