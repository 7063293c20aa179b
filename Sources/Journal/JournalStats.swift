/// `journal stats`: transitions per kind, violations per group, enforcement latency percentiles.
public struct JournalStats: Sendable, Equatable {
    public var records = 0
    public var perKind: [RecordKind: Int] = [:]
    /// Violations per group, keyed by the group's member addresses (never its number alone).
    public var violationsPerGroup: [[String]: Int] = [:]
    /// The last number the kernel gave each group, for display beside its members.
    public var groupNumbers: [[String]: Int] = [:]
    /// In journal order. Per violation that was fixed: nanoseconds from `violation_detected` to the `step_finished` that moved the
    /// device off the offending driver (same boot).
    public var enforcementLatencies: [UInt64] = []
    public var failedSteps = 0
    public static func == (a: JournalStats, b: JournalStats) -> Bool {
        a.records == b.records && a.perKind == b.perKind && a.violationsPerGroup == b.violationsPerGroup
            && a.groupNumbers == b.groupNumbers && a.enforcementLatencies == b.enforcementLatencies && a.failedSteps == b.failedSteps
    }

    public init() {}

    var latenciesSorted = true
    /// Each violation not yet fixed, by device.
    var unresolved: [String: JournalRecord] = [:]

    public init(_ records: [JournalRecord]) {
        self.init()
        for record in records { add(record) }
    }

    /// Counts one more record, in journal order (streaming: memory grows with groups and open violations only).
    public mutating func add(_ record: JournalRecord) {
        records += 1
        perKind[record.kind, default: 0] += 1
        switch record.event {
        case .violationDetected(let v):
            let key = v.group.devices.map(\.description)
            violationsPerGroup[key, default: 0] += 1
            if let n = v.group.number { groupNumbers[key] = n }
            if unresolved[v.device.description] == nil { unresolved[v.device.description] = record }
        case .stepFinished(let s):
            if !s.succeeded { failedSteps += 1; break }
            guard let start = unresolved[s.device.description], case .violationDetected(let v) = start.event,
                  let after = s.driverAfter, after != v.driver else { break }
            unresolved[s.device.description] = nil
            if start.bootID == record.bootID && record.monotonicNanos >= start.monotonicNanos {
                let latency = record.monotonicNanos - start.monotonicNanos
                enforcementLatencies.append(latency)
                latenciesSorted = false
            }
        default:
            break
        }
    }

    /// Nearest-rank percentile of the enforcement latencies (`p` in 0...100), nil when there are none.
    public func latencyPercentile(_ p: Double) -> UInt64? {
        Self.percentile(latenciesSorted ? enforcementLatencies : enforcementLatencies.sorted(), p)
    }

    /// Nearest rank: the smallest value with at least p% of the values at or below it.
    public static func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// The text `journal stats` prints.
    public func render() -> [String] {
        var lines = ["records: \(records)", "", "transitions per kind:"]
        for kind in RecordKind.allCases where perKind[kind, default: 0] > 0 {
            lines.append("  \(kind.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)) \(perKind[kind]!)")
        }
        lines.append("")
        lines.append("violations per group:")
        if violationsPerGroup.isEmpty { lines.append("  none") }
        for (members, count) in violationsPerGroup.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key) }) {
            let number = groupNumbers[members].map { "group \($0) " } ?? ""
            lines.append("  \(number)(\(members.joined(separator: ", "))): \(count)")
        }
        lines.append("")
        lines.append("enforcement latency (violation → device back off the host driver), \(enforcementLatencies.count) fixed:")
        if enforcementLatencies.isEmpty {
            lines.append("  none")
        } else {
            for p in [50.0, 90.0, 99.0, 100.0] {
                let label = p == 100 ? "max" : "p\(Int(p))"
                lines.append("  \(label.padding(toLength: 4, withPad: " ", startingAt: 0)) \(StoryRenderer.formatDuration(nanos: latencyPercentile(p)!))")
            }
        }
        if failedSteps > 0 { lines.append("failed steps: \(failedSteps)") }
        return lines
    }
}
