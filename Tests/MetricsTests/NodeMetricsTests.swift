import Enforcement
import Foundation
import Journal
import Metrics
import Synchronization
import Sysfs
import Testing

/// A fresh directory under the system temporary folder, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-metrics-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Moves 1 ms per reading.
final class MillisecondClock: Sendable {
    let readings = Mutex<Int64>(0)
    func next() -> (realtimeMicros: Int64, monotonicNanos: UInt64) {
        let n = readings.withLock { value -> Int64 in value += 1; return value }
        return (1_795_600_800_000_000 + n * 1000, UInt64(n) * 1_000_000)
    }
}

let nic = PCIAddress("0000:03:01.0")!
let group = GroupRef(devices: [nic], number: 14)

/// A journal with two udev adds, a bind, one violation fixed a few milliseconds later and a failed step.
func writeSampleJournal(_ directory: String) async throws {
    var options = JournalWriter.Options()
    let clock = MillisecondClock()
    options.clock = { clock.next() }
    let writer = try JournalWriter(directory: directory, options: options)
    defer { writer.close() }
    let devpath = "/devices/pci0000:00/0000:00:02.0/0000:03:01.0"
    _ = try await writer.append(.eventSeen(EventSeen(device: nic, devpath: devpath, action: "add")))
    _ = try await writer.append(.eventSeen(EventSeen(device: nic, devpath: devpath, action: "add")))
    _ = try await writer.append(.eventSeen(EventSeen(device: nic, devpath: devpath, action: "bind", driver: "e1000")))
    _ = try await writer.append(.violationDetected(Violation(group: group, device: nic, driver: "e1000", owner: "vm1")))
    _ = try await writer.append(.stepFinished(StepFinished(planID: 1, step: 1, device: nic, operation: "unbind",
                                                           driverBefore: "e1000", driverAfter: nil, errno: 16,
                                                           error: "busy", durationNanos: 1000)))
    _ = try await writer.append(.stepFinished(StepFinished(planID: 1, step: 2, device: nic, operation: "bind",
                                                           driverBefore: "e1000", driverAfter: "vfio-pci", durationNanos: 1000)))
}

@Suite struct NodeMetricsTests {
    @Test func journalCountersAndLatencyHistogram() async throws {
        try await withTemporaryDirectory { directory in
            try await writeSampleJournal(directory)
            var metrics = NodeMetrics()
            metrics.addJournal(try JournalReader(directory: directory).records())
            let text = metrics.render()
            #expect(text.contains("vfio_warden_events_total{action=\"add\"} 2\n"))
            #expect(text.contains("vfio_warden_events_total{action=\"bind\"} 1\n"))
            #expect(text.contains("vfio_warden_journal_records_total{kind=\"event_seen\"} 3\n"))
            #expect(text.contains("vfio_warden_violations_total 1\n"))
            #expect(text.contains("vfio_warden_failed_steps_total 1\n"))
            #expect(metrics.enforcementLatencies.count == 1)
            let latency = try #require(metrics.enforcementLatencies.first)
            #expect(latency >= 1_000_000 && latency < 10_000_000)
            #expect(text.contains("vfio_warden_enforcement_latency_seconds_bucket{le=\"0.001\"} 0\n"))
            #expect(text.contains("vfio_warden_enforcement_latency_seconds_bucket{le=\"0.01\"} 1\n"))
            #expect(text.contains("vfio_warden_enforcement_latency_seconds_bucket{le=\"+Inf\"} 1\n"))
            #expect(text.contains("vfio_warden_enforcement_latency_seconds_count 1\n"))
            // No scan: no group gauge.
            #expect(!text.contains("vfio_warden_groups"))
            try expectWellFormed(text)
        }
    }

    @Test func groupsByStateListEveryStateEvenAtZero() throws {
        var metrics = NodeMetrics()
        metrics.setGroups([
            GroupStatus(group: 1, members: [], state: .host, owner: nil, reasons: []),
            GroupStatus(group: 2, members: [nic], state: .isolated, owner: "vm1", reasons: []),
            GroupStatus(group: 3, members: [], state: .host, owner: nil, reasons: []),
        ])
        metrics.journalBytes = 4096
        let text = metrics.render()
        #expect(text.contains("""
            # HELP vfio_warden_groups IOMMU groups by state (host, isolated, violated, blocked).
            # TYPE vfio_warden_groups gauge
            vfio_warden_groups{state="host"} 2
            vfio_warden_groups{state="isolated"} 1
            vfio_warden_groups{state="violated"} 0
            vfio_warden_groups{state="blocked"} 0

            """))
        #expect(text.contains("vfio_warden_journal_bytes 4096\n"))
        try expectWellFormed(text)
    }

    @Test func labelValuesAreEscaped() throws {
        var metrics = NodeMetrics()
        metrics.eventsByAction = ["we\"ird\\\nx": 1]
        let text = metrics.render()
        #expect(text.contains(#"vfio_warden_events_total{action="we\"ird\\\nx"} 1"#))
        try expectWellFormed(text)
    }

    @Test func journalOutagesAndFreeSpaceAreExported() throws {
        var metrics = NodeMetrics()
        let outage = JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil,
                                   event: .recordRefused(RecordRefused(reason: "the journal refused records", lostRecords: 7)),
                                   prev: JournalRecord.genesisHash)
        let torn = JournalRecord(seq: 2, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil,
                                 event: .recordRefused(RecordRefused(reason: "torn tail", bytes: 3)), prev: "")
        metrics.addJournal([outage, torn])
        metrics.journalFreeBytes = 0
        let text = metrics.render()
        #expect(text.contains("vfio_warden_journal_outages_total 1\n"))
        #expect(text.contains("vfio_warden_journal_lost_records_total 7\n"))
        #expect(text.contains("vfio_warden_journal_free_bytes 0\n"))
        try expectWellFormed(text)
    }

    /// Issue 12 item 22: a `flapping` record shows in the metrics, by device.
    @Test func flappingEpisodesAreCountedByDevice() async throws {
        try await withTemporaryDirectory { directory in
            let writer = try JournalWriter(directory: directory)
            _ = try await writer.append(.flapping(Flapping(device: nic, fights: 5, windowSeconds: 60, backoffSeconds: 1)))
            writer.close()
            var metrics = NodeMetrics()
            metrics.addJournal(try JournalReader(directory: directory).records())
            let text = metrics.render()
            #expect(text.contains("vfio_warden_flapping_total{device=\"\(nic)\"} 1\n"))
            #expect(text.contains("vfio_warden_journal_records_total{kind=\"flapping\"} 1\n"))
            try expectWellFormed(text)
        }
    }

    @Test func emptyJournalStillRendersEveryFamily() throws {
        let text = NodeMetrics().render()
        for name in ["vfio_warden_events_total", "vfio_warden_violations_total", "vfio_warden_enforcement_latency_seconds",
                     "vfio_warden_journal_bytes"] {
            #expect(text.contains("# TYPE \(name) "))
        }
        #expect(text.contains("vfio_warden_enforcement_latency_seconds_sum 0\n"))
        try expectWellFormed(text)
    }
}

/// The exposition format's rules that node-exporter enforces: every sample's family has one HELP and one TYPE
/// line before its first sample, names are valid, values parse, the text ends with a newline.
func expectWellFormed(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(text.hasSuffix("\n"), sourceLocation: sourceLocation)
    var typed: [String: String] = [:]
    var helped = Set<String>()
    let name = /[a-zA-Z_:][a-zA-Z0-9_:]*/
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# HELP ") {
            let family = String(line.dropFirst(7).prefix { $0 != " " })
            #expect(helped.insert(family).inserted, "two HELP lines for \(family)", sourceLocation: sourceLocation)
        } else if line.hasPrefix("# TYPE ") {
            let parts = line.dropFirst(7).split(separator: " ")
            #expect(parts.count == 2 && ["counter", "gauge", "histogram"].contains(String(parts[1])), sourceLocation: sourceLocation)
            typed[String(parts[0])] = String(parts[1])
        } else {
            let sampleName = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(sampleName.wholeMatch(of: name) != nil, "\(line)", sourceLocation: sourceLocation)
            var family = sampleName
            for suffix in ["_bucket", "_sum", "_count"] where typed[family] == nil && family.hasSuffix(suffix) {
                family = String(family.dropLast(suffix.count))
            }
            #expect(typed[family] != nil && helped.contains(family), "sample before HELP/TYPE: \(line)", sourceLocation: sourceLocation)
            let value = line.split(separator: " ").last.map(String.init) ?? ""
            #expect(Double(value) != nil || ["+Inf", "-Inf", "NaN"].contains(value), "\(line)", sourceLocation: sourceLocation)
        }
    }
}
