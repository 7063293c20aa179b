import Agent
import ArgumentParser
import Journal
import Metrics
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `vfio-warden metrics`: the journal's counters and the groups' states for node-exporter's textfile collector.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Write Prometheus metrics (node-exporter textfile format) from the journal and a scan.",
        discussion: """
            From the journal: udev events by action, records by kind, violations, failed steps, an enforcement \
            latency histogram (violation found to device back off the host driver) and the journal's size in bytes. \
            From a scan of --sysfs-root with the policy and the assignments in --state-dir: IOMMU groups by state \
            (host, isolated, violated, blocked). Reads only; the journal may be open by a running agent.

            With --output the file is written as FILE.tmp and renamed over FILE, so node-exporter never reads half \
            a file: e.g. --output /var/lib/node_exporter/textfile_collector/vfio_warden.prom, from a timer.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("output"), help: ArgumentHelp(
        "Write to this file (through FILE.tmp and a rename) instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(name: .customLong("no-groups"), help: "Do not scan sysfs: leave out vfio_warden_groups.")
    var noGroups = false

    func run() async throws {
        var metrics = NodeMetrics()
        let directory = JournalDirectory(engine.journal)
        if FileStatus.directory(engine.journal) {
            let reader = JournalReader(directory: engine.journal)
            var records: [JournalRecord] = []
            do {
                try reader.forEachItem { item in
                    switch item {
                    case .record(let record, _): records.append(record)
                    case .edited, .tornTail, .malformed: metrics.unreadableRecords += 1
                    }
                    return true
                }
            } catch {
                throw CommandFailure("cannot read the journal in \(engine.journal): \(error)")
            }
            metrics.addJournal(records)
            for file in (try? directory.filesOldestFirst()) ?? [] {
                metrics.journalBytes += FileStatus.size(file) ?? 0
            }
            var space = statvfs()
            if statvfs(engine.journal, &space) == 0 { metrics.journalFreeBytes = Int64(space.f_bavail) * Int64(space.f_frsize) }
        }
        if !noGroups {
            let root = try engine.global.resolvedRoot()
            let (engine, _, _) = try engine.makeEngine(root: root.root, journaled: false)
            metrics.setGroups(await engine.statuses())
        }
        let text = metrics.render()
        if let output {
            try AtomicFile.write(text, to: output)
        } else {
            StandardOutput.write(text)
        }
    }
}

/// Small stat(2) questions the metrics command asks.
enum FileStatus {
    static func directory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }
}
