import Enforcement
import Journal

/// What `vfio-warden metrics` exports, in the Prometheus text exposition format (version 0.0.4) that
/// node-exporter's textfile collector reads: counters from the journal, group states from a scan.
///
/// Written by hand rather than through swift-prometheus: every value here is computed once per run from the
/// journal and a scan (no live registry, no concurrency), and the text format is small; see ``render()``.
public struct NodeMetrics: Sendable, Equatable {
    /// Journal records per kind (`event_seen`, `violation_detected`, ...).
    public var recordsPerKind: [String: Int] = [:]
    /// udev events the agent saw, by action (`add`, `remove`, `bind`, `unbind`, `change`).
    public var eventsByAction: [String: Int] = [:]
    public var violations = 0
    /// Flapping episodes journaled (`flapping` records), by device: another tool kept taking the device back.
    public var flappingByDevice: [String: Int] = [:]
    public var failedSteps = 0
    /// Enforcement latencies in nanoseconds: violation found → device back off the host driver (``JournalStats``).
    public var enforcementLatencies: [UInt64] = []
    /// Groups per state, when a scan was made; `nil` leaves the metric out.
    public var groupsByState: [GroupStatus.State: Int]?
    /// Size of every journal file (current and rotated).
    public var journalBytes: Int64 = 0
    /// Records that failed their hash check or could not be parsed.
    public var unreadableRecords = 0
    /// Times the journal refused records (a full disk) and then took them again, and the records lost meanwhile
    /// (from `record_refused` records that carry `lostRecords`).
    public var journalOutages = 0
    public var journalLostRecords = 0
    /// Free bytes on the journal's file system (`statvfs(3)` `f_bavail`), when known: 0 means every record is refused.
    public var journalFreeBytes: Int64?

    public init() {}

    /// Upper bounds (seconds) of the enforcement latency histogram: the agent aims at milliseconds.
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Counts every record of a journal (and its latencies through ``JournalStats``).
    public mutating func addJournal(_ records: some Sequence<JournalRecord>) {
        var stats = JournalStats()
        for record in records {
            stats.add(record)
            if case .eventSeen(let event) = record.event { eventsByAction[event.action, default: 0] += 1 }
            if case .recordRefused(let refused) = record.event, let lost = refused.lostRecords {
                journalOutages += 1
                journalLostRecords += lost
            }
            if case .flapping(let flap) = record.event { flappingByDevice[flap.device.description, default: 0] += 1 }
        }
        for (kind, count) in stats.perKind { recordsPerKind[kind.rawValue, default: 0] += count }
        violations += stats.perKind[.violationDetected, default: 0]
        failedSteps += stats.failedSteps
        enforcementLatencies += stats.enforcementLatencies
    }

    /// Counts the states of `statuses`.
    public mutating func setGroups(_ statuses: [GroupStatus]) {
        var counts: [GroupStatus.State: Int] = [:]
        for state in GroupStatus.State.allCases { counts[state] = 0 }
        for status in statuses { counts[status.state, default: 0] += 1 }
        groupsByState = counts
    }

    /// The exposition text: `# HELP` and `# TYPE` before each family, label values escaped, families sorted so that
    /// the file is stable, a newline at the end.
    public func render() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ value: String) { sample(name, [], value) }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " \(value)\n"
        }

        family("vfio_warden_events_total", "counter", "udev PCI events the agent journaled, by action.")
        for (action, count) in eventsByAction.sorted(by: { $0.key < $1.key }) {
            sample("vfio_warden_events_total", [("action", action)], "\(count)")
        }

        family("vfio_warden_journal_records_total", "counter", "Journal records, by kind.")
        for (kind, count) in recordsPerKind.sorted(by: { $0.key < $1.key }) {
            sample("vfio_warden_journal_records_total", [("kind", kind)], "\(count)")
        }

        family("vfio_warden_violations_total", "counter", "Members of assigned groups found on a host driver.")
        sample("vfio_warden_violations_total", "\(violations)")

        family("vfio_warden_flapping_total", "counter", "Flapping episodes: another tool kept taking a device back (repairs went on, backed off), by device.")
        for (device, count) in flappingByDevice.sorted(by: { $0.key < $1.key }) {
            sample("vfio_warden_flapping_total", [("device", device)], "\(count)")
        }

        family("vfio_warden_failed_steps_total", "counter", "Sysfs write steps that failed.")
        sample("vfio_warden_failed_steps_total", "\(failedSteps)")

        family("vfio_warden_enforcement_latency_seconds", "histogram",
               "Time from a violation found to the device back off the host driver.")
        var sum: UInt64 = 0
        for latency in enforcementLatencies { sum &+= latency }
        for bound in Self.latencyBuckets {
            let limit = bound * 1e9
            let count = enforcementLatencies.filter { Double($0) <= limit }.count
            sample("vfio_warden_enforcement_latency_seconds_bucket", [("le", Self.format(bound))], "\(count)")
        }
        sample("vfio_warden_enforcement_latency_seconds_bucket", [("le", "+Inf")], "\(enforcementLatencies.count)")
        sample("vfio_warden_enforcement_latency_seconds_sum", Self.format(Double(sum) / 1e9))
        sample("vfio_warden_enforcement_latency_seconds_count", "\(enforcementLatencies.count)")

        if let groupsByState {
            family("vfio_warden_groups", "gauge", "IOMMU groups by state (host, isolated, violated, blocked).")
            for state in GroupStatus.State.allCases {
                sample("vfio_warden_groups", [("state", state.rawValue)], "\(groupsByState[state, default: 0])")
            }
        }

        family("vfio_warden_journal_bytes", "gauge", "Size of the journal files, current and rotated, in bytes.")
        sample("vfio_warden_journal_bytes", "\(journalBytes)")

        family("vfio_warden_journal_unreadable_records", "gauge", "Journal lines that are torn, edited or not records.")
        sample("vfio_warden_journal_unreadable_records", "\(unreadableRecords)")

        family("vfio_warden_journal_outages_total", "counter", "Times the journal refused records (a full disk) and took them again.")
        sample("vfio_warden_journal_outages_total", "\(journalOutages)")
        family("vfio_warden_journal_lost_records_total", "counter", "Records lost while the journal refused them.")
        sample("vfio_warden_journal_lost_records_total", "\(journalLostRecords)")
        if let journalFreeBytes {
            family("vfio_warden_journal_free_bytes", "gauge", "Free bytes on the journal's file system; at 0 assign and release are refused.")
            sample("vfio_warden_journal_free_bytes", "\(journalFreeBytes)")
        }
        return out
    }

    /// A sample value or `le` bound: integers without a fraction, others in the shortest form Swift prints.
    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Label values: backslash, double quote and line feed are escaped.
    static func escapeLabel(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed are escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
