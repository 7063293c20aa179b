import Testing
@testable import Control

/// The per-uid rate limit on journaled refusals, with an injected clock.
struct RefusalLimiterTests {
    let start = ContinuousClock.now

    @Test func theFirstRefusalOfAUIDIsJournaledAndTheRestOfItsWindowCounted() {
        var limiter = RefusalLimiter(window: .seconds(60))
        #expect(limiter.note(uid: 1000, at: start) == .journal(unjournaled: 0, elapsed: nil))
        #expect(limiter.note(uid: 1000, at: start + .seconds(1)) == .count)
        #expect(limiter.note(uid: 1000, at: start + .seconds(59)) == .count)
        // The window has passed: journaled, carrying the two counted since.
        #expect(limiter.note(uid: 1000, at: start + .seconds(61)) == .journal(unjournaled: 2, elapsed: .seconds(61)))
        // A new window starts at the refusal just journaled.
        #expect(limiter.note(uid: 1000, at: start + .seconds(100)) == .count)
        #expect(limiter.note(uid: 1000, at: start + .seconds(121)) == .journal(unjournaled: 1, elapsed: .seconds(60)))
    }

    @Test func eachUIDHasItsOwnWindow() {
        var limiter = RefusalLimiter(window: .seconds(60))
        #expect(limiter.note(uid: 1000, at: start) == .journal(unjournaled: 0, elapsed: nil))
        #expect(limiter.note(uid: 1001, at: start + .seconds(1)) == .journal(unjournaled: 0, elapsed: nil))
        #expect(limiter.note(uid: 1000, at: start + .seconds(2)) == .count)
        #expect(limiter.note(uid: 1001, at: start + .seconds(2)) == .count)
        #expect(limiter.note(uid: 1001, at: start + .seconds(70)) == .journal(unjournaled: 1, elapsed: .seconds(69)))
    }

    @Test func aFloodOfOneUIDJournalsOneRecordAMinute() {
        var limiter = RefusalLimiter(window: .seconds(60))
        var journaled = 0
        for tenth in 0..<6000 { // ten minutes, ten refusals a second
            if case .journal = limiter.note(uid: 1000, at: start + .milliseconds(tenth * 100)) { journaled += 1 }
        }
        #expect(journaled == 10)
        #expect(limiter.rememberedUIDs == 1)
    }

    @Test func atCapacityQuietUIDsAreForgottenAndOthersCountedForTheNextRecord() {
        var limiter = RefusalLimiter(window: .seconds(60), capacity: 2)
        #expect(limiter.note(uid: 1, at: start) == .journal(unjournaled: 0, elapsed: nil))
        #expect(limiter.note(uid: 2, at: start) == .journal(unjournaled: 0, elapsed: nil))
        // Both in their window: a third uid cannot be remembered, so it is only counted.
        #expect(limiter.note(uid: 3, at: start + .seconds(1)) == .count)
        #expect(limiter.note(uid: 4, at: start + .seconds(2)) == .count)
        #expect(limiter.rememberedUIDs == 2)
        // Once their window has passed with nothing counted, they are forgotten to make room; the count of the
        // unremembered goes with this record.
        #expect(limiter.note(uid: 3, at: start + .seconds(61)) == .journal(unjournaled: 0, elapsed: nil, otherUIDs: 2))
        #expect(limiter.rememberedUIDs == 1)
        #expect(limiter.note(uid: 4, at: start + .seconds(62)) == .journal(unjournaled: 0, elapsed: nil))
    }
}
