import ArgumentParser
import Foundation
import Journal
import Sysfs

/// `vfio-warden journal`: review, follow, verify and summarise the journal of transitions.
struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Show, follow, verify and summarise the journal of every transition.",
        discussion: """
            Records are JSON Lines in --journal DIR (journal.jsonl, journal.1.jsonl, ...), each carrying the \
            SHA-256 of the record before it. Without a subcommand, shows records as a story (or --json lines \
            for jq), filtered by device, group, owner, kind and time.
            """,
        subcommands: [Show.self, Verify.self, Stats.self],
        defaultSubcommand: Show.self
    )
}

struct JournalLocation: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("journal"), help: ArgumentHelp(
        "The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys "
            + "D/var/lib/vfio-warden/journal (where assign, release and agent over that tree write it).", valueName: "dir"))
    var directoryOption: String?

    /// `--journal`, or the default for `--sysfs-root` (``StateLocations``).
    var directory: String { directoryOption ?? StateLocations.journalDirectory(for: global.sysfsRoot) }

    /// Fails with the path and errno when the directory cannot be read.
    func checkReadable() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw JournalError(operation: "open journal", path: directory, errno: .noSuchFileOrDirectory)
        }
        guard isDirectory.boolValue else {
            throw JournalError(operation: "open journal", path: directory, errno: .notDirectory)
        }
        guard FileManager.default.isReadableFile(atPath: directory) else {
            throw JournalError(operation: "open journal", path: directory, errno: .permissionDenied)
        }
    }
}

struct FilterOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Only records about this device (repeatable).", valueName: "address"))
    var device: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Only records about this group: the number the kernel gave it then, or a member's address (repeatable).",
        valueName: "number|address"))
    var group: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only records about this owner (repeatable).", valueName: "name"))
    var owner: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Only records of this kind (repeatable): \(RecordKind.allCases.map(\.rawValue).joined(separator: ", ")).",
        valueName: "kind"))
    var kind: [String] = []

    // .unconditional: relative times such as -1h start with a dash.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Records at or after this time: YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, -1h, +5min, @UNIX.", valueName: "time"))
    var since: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Records at or before this time (same forms as --since).", valueName: "time"))
    var until: String?

    func filter(now: Date = Date()) throws -> JournalFilter {
        var filter = JournalFilter()
        for text in device {
            do { filter.devices.append(try PCIAddress.parse(text)) } catch {
                throw ValidationError("--device: \(error.description)")
            }
        }
        for text in group {
            guard let selector = JournalFilter.GroupSelector(text) else {
                throw ValidationError("--group '\(text)': expected a group number or a member's PCI address such as 0000:03:01.0")
            }
            filter.groups.append(selector)
        }
        filter.owners = owner
        for text in kind {
            guard let k = JournalFilter.parseKind(text) else {
                throw ValidationError("--kind '\(text)': unknown record kind; known kinds: \(RecordKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.kinds.insert(k)
        }
        do {
            if let since { filter.sinceMicros = try JournalTime.parse(since, now: now) }
        } catch { throw ValidationError("--since: \(error.description)") }
        do {
            if let until { filter.untilMicros = try JournalTime.parse(until, now: now) }
        } catch { throw ValidationError("--until: \(error.description)") }
        return filter
    }

    func validate() throws { _ = try filter() }
}

extension JournalCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show records as a story, or as JSON lines with --json.")

        @OptionGroup var location: JournalLocation
        @OptionGroup var filters: FilterOptions

        @Flag(name: .shortAndLong, help: "Keep running and show new records as they are written.")
        var follow = false

        @Flag(name: .long, help: "Print each record's JSON line as stored (for jq).")
        var json = false

        mutating func run() async throws {
            try location.checkReadable()
            var filter = JournalFilterStream(try filters.filter())
            // Start following before reading the history, so nothing falls between; seq removes repeats.
            let follower = follow ? try JournalFollower(directory: location.directory) : nil
            var lastSeq: UInt64 = 0
            var story = StoryWriter()
            var (records, shownRecords) = (0, 0)
            func emit(_ record: JournalRecord, line: [UInt8]) {
                let shown = filter.admit(record)
                records += 1
                if shown { shownRecords += 1 }
                if json {
                    if shown { print(String(decoding: line, as: UTF8.self)) }
                } else {
                    for text in story.add(record, shown: shown) { print(text) }
                }
            }
            try JournalReader(directory: location.directory).forEachItem { item in
                switch item {
                case .record(let r, let line), .edited(let r, let line):
                    lastSeq = max(lastSeq, r.seq)
                    emit(r, line: line.bytes)
                case .tornTail(let line, let reason), .malformed(let line, let reason):
                    FileHandle.standardError.write(Data("warning: \(escapedForTerminal("\(line.location): \(reason)"))\n".utf8))
                }
                return true
            }
            if shownRecords == 0 {
                // Say so rather than print nothing; with --json on standard error, so that the output stays JSON lines.
                let note = records == 0
                    ? "the journal in \(location.directory) is empty (no records yet)"
                    : "no record matches (\(records) record\(records == 1 ? "" : "s") in \(location.directory))"
                if json { FileHandle.standardError.write(Data("\(note)\n".utf8)) } else { print(note) }
            }
            guard let follower else {
                for text in story.finish() { print(text) }
                return
            }
            while !Task.isCancelled {
                let lines = try follower.poll()
                for line in lines {
                    guard let record = try? RecordCodec.decode(line.bytes), record.seq > lastSeq else { continue }
                    lastSeq = record.seq
                    emit(record, line: line.bytes)
                }
                // Idle: print a violation still waiting for its outcome rather than hold it.
                if lines.isEmpty { for text in story.finish() { print(text) } }
                fflush(nil)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's hash, every link of the chain, the sequence and the end; name the first bad record.",
            discussion: """
                Also reports a plan whose outcome was never recorded (no plan_finished and no crash recovery of it: \
                records lost to a full disk, or a process killed mid-plan) until the agent's next start recovers it.

                The chain has no key: it shows an edited, removed or reordered record, but root can rewrite the whole \
                chain. --against-journald checks it against its anchor: the seq and hash of every record, mirrored to \
                the systemd journal when it was written (seal journald's files with `journalctl --setup-keys` to make \
                rewriting both detectable as well).
                """)

        @OptionGroup var location: JournalLocation

        @Flag(name: .long, help: "Also compare every record with the copy the systemd journal holds (runs journalctl).")
        var againstJournald = false

        @Option(name: .long, help: ArgumentHelp(
            "Compare against this file of `journalctl -o json` output instead of running journalctl (implies --against-journald).",
            valueName: "file"))
        var journaldJson: String?

        mutating func run() throws {
            try location.checkReadable()
            var report = try JournalVerifier.verify(directory: location.directory)
            if againstJournald || journaldJson != nil {
                let output = try journaldJson.map { path -> [UInt8] in
                    guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
                    return Array(data)
                } ?? Self.journalctl()
                let entries = JournaldAnchor.entries(fromJSONLines: output, journal: JournalDirectory(location.directory).resolvedPath)
                try JournaldAnchor.check(directory: location.directory, against: entries, into: &report)
            }
            for note in report.notes { print("note: \(escapedForTerminal(note))") }
            let span = report.firstSeq.map { "seq \($0)...\(report.lastSeq ?? $0)" } ?? "no records"
            if report.isIntact {
                print("ok: \(report.records) records in \(report.files.count) file\(report.files.count == 1 ? "" : "s") (\(span)); chain intact")
                return
            }
            let first = report.problems[0]
            print("FAILED: first bad record at \(first.file):\(first.line)" + (first.seq.map { " (seq \($0))" } ?? "") + ": \(escapedForTerminal(first.message))")
            for problem in report.problems { print("  \(escapedForTerminal(problem.description))") }
            print("\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") in \(report.records) records (\(span))")
            throw ExitCode(1)
        }

        /// `journalctl -o json ... SYSLOG_IDENTIFIER=vfio-warden`: our records as journald holds them.
        static func journalctl() throws -> [UInt8] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["journalctl"] + JournaldAnchor.journalctlArguments
            let pipe = Pipe()
            process.standardOutput = pipe
            do { try process.run() } catch { throw CommandFailure("cannot run journalctl: \(error)") }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure("journalctl exited with status \(process.terminationStatus); pass its output with --journald-json FILE")
            }
            return Array(data)
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Transitions per kind, violations per group, enforcement latency percentiles.")

        @OptionGroup var location: JournalLocation
        @OptionGroup var filters: FilterOptions

        @Flag(name: .long, help: "Print the figures as JSON.")
        var json = false

        mutating func run() throws {
            try location.checkReadable()
            var filter = JournalFilterStream(try filters.filter())
            var stats = JournalStats()
            try JournalReader(directory: location.directory).forEachItem { item in
                switch item {
                case .record(let r, _), .edited(let r, _): if filter.admit(r) { stats.add(r) }
                case .tornTail(let line, let reason), .malformed(let line, let reason):
                    FileHandle.standardError.write(Data("warning: \(escapedForTerminal("\(line.location): \(reason)"))\n".utf8))
                }
                return true
            }
            if json {
                var object: [String: Any] = [
                    "records": stats.records,
                    "per_kind": Dictionary(uniqueKeysWithValues: stats.perKind.map { ($0.key.rawValue, $0.value) }),
                    "violations_per_group": stats.violationsPerGroup.map { ["devices": $0.key, "number": stats.groupNumbers[$0.key].map { $0 as Any } ?? NSNull(), "violations": $0.value] },
                    "failed_steps": stats.failedSteps,
                ]
                var latency: [String: Any] = ["count": stats.enforcementLatencies.count]
                for p in [50.0, 90.0, 99.0, 100.0] { latency[p == 100 ? "max_ns" : "p\(Int(p))_ns"] = stats.latencyPercentile(p) }
                object["enforcement_latency"] = latency
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for line in stats.render() { print(line) }
            }
        }
    }
}
