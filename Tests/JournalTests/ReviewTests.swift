import Foundation
@testable import Journal
import Sysfs
import Testing

@Suite struct FilterTests {
    func record(_ kind: RecordKind, at micros: Int64 = StepClock.start) -> JournalRecord {
        JournalRecord(seq: 1, realtimeMicros: micros, monotonicNanos: 0, host: "h", cause: nil, event: sampleEvent(kind),
                      prev: JournalRecord.genesisHash)
    }

    @Test func byDeviceGroupOwnerAndKind() {
        let violation = record(.violationDetected)
        let policy = record(.policyLoaded)
        #expect(JournalFilter(devices: [nic]).matches(violation))
        #expect(JournalFilter(devices: [nicPeer]).matches(violation))   // a member of the same group
        #expect(!JournalFilter(devices: [gpu]).matches(violation))
        #expect(!JournalFilter(devices: [nic]).matches(policy))
        #expect(JournalFilter(groups: [.number(14)]).matches(violation))
        #expect(!JournalFilter(groups: [.number(2)]).matches(violation))
        #expect(JournalFilter(groups: [.member(nicPeer)]).matches(violation))
        #expect(JournalFilter(owners: ["vm1"]).matches(violation))
        #expect(!JournalFilter(owners: ["vm2"]).matches(violation))
        #expect(JournalFilter(kinds: [.violationDetected, .policyLoaded]).matches(policy))
        #expect(!JournalFilter(kinds: [.violationDetected]).matches(policy))
        #expect(JournalFilter.parseKind("step-finished") == .stepFinished)
        #expect(JournalFilter.parseKind("nope") == nil)
        #expect(JournalFilter.GroupSelector("14") == .number(14))
        #expect(JournalFilter.GroupSelector("03:01.1") == .member(nicPeer))
        #expect(JournalFilter.GroupSelector("x") == nil)
    }

    @Test func byTimeRangeInclusive() {
        let r = record(.agentStarted, at: 1_000_000)
        #expect(JournalFilter(sinceMicros: 1_000_000, untilMicros: 1_000_000).matches(r))
        #expect(!JournalFilter(sinceMicros: 1_000_001).matches(r))
        #expect(!JournalFilter(untilMicros: 999_999).matches(r))
    }
}

@Suite struct TimeParsingTests {
    static let utc = TimeZone(secondsFromGMT: 0)!
    /// 2026-11-25 10:30:15.5 UTC.
    static let now = Date(timeIntervalSince1970: 1_795_602_615.5)
    static let nowMicros: Int64 = 1_795_602_615_500_000
    static let midnight: Int64 = 1_795_564_800_000_000

    @Test(arguments: [
        ("now", nowMicros),
        ("today", midnight),
        ("yesterday", midnight - 86_400_000_000),
        ("tomorrow", midnight + 86_400_000_000),
        ("2026-11-25", midnight),
        ("2026-11-25 10:02", midnight + 36_120_000_000),
        ("2026-11-25 10:02:01", midnight + 36_121_000_000),
        ("2026-11-25T10:02:01", midnight + 36_121_000_000),
        ("10:02:01", midnight + 36_121_000_000),
        ("-1h", nowMicros - 3_600_000_000),
        ("+5min", nowMicros + 300_000_000),
        ("-1h 30min", nowMicros - 5_400_000_000),
        ("-2d", nowMicros - 172_800_000_000),
        ("-90s", nowMicros - 90_000_000),
        ("2 hours ago", nowMicros - 7_200_000_000),
        ("@1700000000", 1_700_000_000_000_000),
        ("@1700000000.25", 1_700_000_000_250_000),
    ] as [(String, Int64)])
    func journalctlForms(text: String, expected: Int64) throws {
        #expect(try JournalTime.parse(text, now: Self.now, timeZone: Self.utc) == expected)
    }

    @Test func localTimeZoneIsUsedForDates() throws {
        let berlin = TimeZone(secondsFromGMT: 3600)!
        #expect(try JournalTime.parse("2026-11-25 10:00", now: Self.now, timeZone: berlin) == Self.midnight + 9 * 3_600_000_000)
        #expect(try JournalTime.parse("2026-11-25 10:00 UTC", now: Self.now, timeZone: berlin) == Self.midnight + 10 * 3_600_000_000)
    }

    @Test(arguments: ["", "soon", "2026-13-01", "2026-02-30", "25:00", "-1 fortnight", "@x", "2026-11-25 10:61", "-"])
    func badTimesSayWhatIsWrong(text: String) {
        #expect(throws: TimeParseError.self) { try JournalTime.parse(text, now: Self.now, timeZone: Self.utc) }
        do { _ = try JournalTime.parse(text, now: Self.now, timeZone: Self.utc) } catch {
            #expect(error.description.hasPrefix("invalid time '\(text)'"))
        }
    }
}

@Suite struct StatsAndStoryTests {
    /// A violation at `at` ms fixed by a bind at `at + took` ms.
    func enforcement(at: UInt64, took: UInt64, device: PCIAddress = nic, seq: inout UInt64) -> [JournalRecord] {
        func make(_ event: JournalEvent, _ ms: UInt64) -> JournalRecord {
            seq += 1
            return JournalRecord(seq: seq, realtimeMicros: StepClock.start + Int64(ms) * 1000 + 2_000_000 * 3600 / 1000,
                                 monotonicNanos: ms * 1_000_000, bootID: "b", host: "h",
                                 cause: .udev(seqnum: seq, action: "bind"), event: event, prev: "")
        }
        return [
            make(.violationDetected(Violation(group: nicGroup, device: device, driver: "e1000e", owner: "vm1")), at),
            make(.stepFinished(StepFinished(planID: seq, step: 1, device: device, operation: "unbind", driverBefore: "e1000e",
                                            driverAfter: nil, durationNanos: 100_000)), at + took / 2),
            make(.stepFinished(StepFinished(planID: seq, step: 2, device: device, operation: "bind", driverBefore: nil,
                                            driverAfter: "vfio-pci", durationNanos: 100_000)), at + took),
        ]
    }

    @Test func percentilesCountsAndViolationsPerGroup() {
        var seq: UInt64 = 0
        var records: [JournalRecord] = []
        for i in 1...10 { records += enforcement(at: UInt64(i) * 1000, took: UInt64(i), seq: &seq) }
        records += enforcement(at: 50_000, took: 7, device: gpu, seq: &seq).map { r in
            var r = r
            if case .violationDetected(var v) = r.event { v.group = gpuGroup; r.event = .violationDetected(v) }
            return r
        }
        let stats = JournalStats(records)
        #expect(stats.records == 33)
        #expect(stats.perKind[.violationDetected] == 11 && stats.perKind[.stepFinished] == 22)
        #expect(stats.violationsPerGroup[["0000:03:01.0", "0000:03:01.1"]] == 10)
        #expect(stats.violationsPerGroup[["0000:01:00.0"]] == 1)
        #expect(stats.groupNumbers[["0000:03:01.0", "0000:03:01.1"]] == 14)
        #expect(stats.enforcementLatencies.count == 11)
        #expect(stats.latencyPercentile(50) == 6_000_000)
        #expect(stats.latencyPercentile(90) == 9_000_000)
        #expect(stats.latencyPercentile(99) == 10_000_000)
        #expect(stats.latencyPercentile(100) == 10_000_000)
        let text = stats.render().joined(separator: "\n")
        #expect(text.contains("group 14 (0000:03:01.0, 0000:03:01.1): 10"))
        #expect(text.contains("p50  6.0 ms"))
    }

    @Test func nearestRankPercentiles() {
        #expect(JournalStats.percentile([], 50) == nil)
        #expect(JournalStats.percentile([5], 99) == 5)
        #expect(JournalStats.percentile([1, 2, 3, 4], 50) == 2)
        #expect(JournalStats.percentile([1, 2, 3, 4], 75) == 3)
        #expect(JournalStats.percentile([1, 2, 3, 4], 76) == 4)
    }

    @Test func theStoryOfADeviceReadsLikeOne() {
        var seq: UInt64 = 0
        let records = enforcement(at: 1000, took: 3, seq: &seq).map { r -> JournalRecord in
            var r = r
            if case .stepFinished(var s) = r.event, s.step == 2 { r.monotonicNanos = 1_003_100_000; s.durationNanos = 900_000; r.event = .stepFinished(s) }
            return r
        }
        let story = StoryRenderer.story(records, timeZone: TimeZone(secondsFromGMT: 0)!)
        #expect(story[0] == "-- 2026-11-25 --")
        #expect(story[1] == "10:00:08 e1000e claimed 0000:03:01.0 while assigned to vm1 → rebound to vfio-pci in 3.1 ms [udev #1 bind]")
        #expect(story[3] == "10:00:08 plan 2 step 2: bind 0000:03:01.0 no driver → vfio-pci in 900 µs [udev #3 bind]")
    }

    @Test(arguments: RecordKind.allCases)
    func everyKindHasASentence(kind: RecordKind) {
        let record = JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: sampleCause(kind),
                                   event: sampleEvent(kind), prev: "")
        let sentence = StoryRenderer.sentence(for: record)
        #expect(!sentence.isEmpty && !sentence.contains("\n"))
        #expect(!StoryRenderer.causeText(record.cause).isEmpty)
    }
}

@Suite struct FilterStreamTests {
    @Test func stepsBelongToTheirPlansGroupAndOwner() {
        var seq: UInt64 = 0
        func make(_ event: JournalEvent) -> JournalRecord {
            seq += 1
            return JournalRecord(seq: seq, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil, event: event, prev: "")
        }
        let records = [make(sampleEvent(.actionPlanned)), make(sampleEvent(.stepStarted)), make(sampleEvent(.stepFinished)),
                       make(sampleEvent(.agentStopped))]
        var byOwner = JournalFilterStream(JournalFilter(owners: ["vm1"]))
        #expect(records.filter { byOwner.admit($0) }.map(\.seq) == [1, 2, 3])
        var byGroup = JournalFilterStream(JournalFilter(groups: [.member(nicPeer)]))
        #expect(records.filter { byGroup.admit($0) }.map(\.seq) == [1, 2, 3])
        var byOther = JournalFilterStream(JournalFilter(owners: ["vm2"]))
        #expect(records.filter { byOther.admit($0) }.isEmpty)
        // Judged alone, a step names no owner.
        #expect(!JournalFilter(owners: ["vm1"]).matches(records[1]))
    }
}

@Suite struct StoryWriterTests {
    @Test func aFilteredViewStillTellsHowAViolationEnded() {
        var seq: UInt64 = 0
        func make(_ event: JournalEvent, ms: UInt64) -> JournalRecord {
            seq += 1
            return JournalRecord(seq: seq, realtimeMicros: StepClock.start, monotonicNanos: ms * 1_000_000, bootID: "b",
                                 host: "h", cause: nil, event: event, prev: "")
        }
        let records = [
            make(.violationDetected(Violation(group: nicGroup, device: nic, driver: "e1000e", owner: "vm1")), ms: 10),
            make(.agentResynced(AgentResynced(changes: 0, summary: "")), ms: 11),
            make(.stepFinished(StepFinished(planID: 1, step: 2, device: nic, operation: "bind", driverBefore: nil,
                                            driverAfter: "vfio-pci", durationNanos: 1)), ms: 14),
        ]
        var writer = StoryWriter(timeZone: TimeZone(secondsFromGMT: 0)!)
        let filter = JournalFilter(kinds: [.violationDetected, .agentResynced])
        var lines: [String] = []
        for record in records { lines += writer.add(record, shown: filter.matches(record)) }
        lines += writer.finish()
        #expect(lines == [
            "-- 2026-11-25 --",
            "10:00:00 e1000e claimed 0000:03:01.0 while assigned to vm1 → rebound to vfio-pci in 4.0 ms",
            "10:00:00 resynced with sysfs: 0 changes",
        ])
    }

    @Test func anUnresolvedViolationIsHeldNoLongerThanTheLimit() {
        var writer = StoryWriter(timeZone: TimeZone(secondsFromGMT: 0)!, maxHeld: 2)
        func make(_ kind: RecordKind) -> JournalRecord {
            JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil, event: sampleEvent(kind), prev: "")
        }
        #expect(writer.add(make(.violationDetected)).isEmpty)
        #expect(writer.add(make(.agentStarted)).isEmpty)
        let lines = writer.add(make(.agentStopped))
        #expect(lines.count == 4 && lines[1].hasSuffix("while assigned to vm1"))
    }
}
