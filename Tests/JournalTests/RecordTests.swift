import Foundation
@testable import Journal
import Testing

@Suite struct RecordTests {
    @Test(arguments: RecordKind.allCases)
    func everyKindRoundTripsThroughItsLine(kind: RecordKind) throws {
        let record = JournalRecord(seq: 3, realtimeMicros: 1_795_600_800_123_456, monotonicNanos: 42, bootID: "b00t",
                                   host: "h", cause: sampleCause(kind), event: sampleEvent(kind), prev: JournalRecord.genesisHash)
        let (line, hash) = try RecordCodec.encodeLine(record)
        #expect(!line.contains(UInt8(ascii: "\n")))
        var expected = record
        expected.hash = hash
        #expect(RecordCodec.check(line) == .valid(expected))
        let object = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
        #expect(object["kind"] as? String == kind.rawValue)
        #expect(object["time"] as? String == "2026-11-25T10:00:00.123456Z")
        #expect(object["hash"] as? String == hash)
    }

    @Test func devicesAreWrittenAsKernelNamesAndGroupsByMembers() throws {
        let record = JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil,
                                   event: sampleEvent(.violationDetected), prev: JournalRecord.genesisHash)
        let text = String(decoding: try RecordCodec.encodeLine(record).line, as: UTF8.self)
        #expect(text.contains(#""device":"0000:03:01.0""#))
        #expect(text.contains(#""group":{"devices":["0000:03:01.0","0000:03:01.1"],"number":14}"#))
    }

    @Test func anUnknownKindIsMalformed() throws {
        let record = JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil,
                                   event: sampleEvent(.agentStopped), prev: JournalRecord.genesisHash)
        let text = String(decoding: try RecordCodec.encodeLine(record).line, as: UTF8.self)
            .replacingOccurrences(of: "agent_stopped", with: "agent_exploded")
        guard case .malformed(let reason) = RecordCodec.check(Array(text.utf8)) else {
            Issue.record("expected malformed"); return
        }
        #expect(reason.contains("agent_exploded"))
    }

    @Test func messageIDsAreDistinct128BitHex() {
        let ids = RecordKind.allCases.map(\.messageID)
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }

    @Test func civilTimeMatchesKnownDates() {
        #expect(ISO8601Micros.format(0) == "1970-01-01T00:00:00.000000Z")
        #expect(ISO8601Micros.format(951_782_400_000_001) == "2000-02-29T00:00:00.000001Z")
        #expect(ISO8601Micros.format(-1) == "1969-12-31T23:59:59.999999Z")
    }
}
