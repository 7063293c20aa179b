import Synchronization

/// Which refused control connections are journaled, so that a local user who may not use the socket cannot flood
/// the journal: the first refusal of a uid in a window is journaled; the later ones in that window are only counted,
/// and the count is carried by the next refusal of that uid that is journaled. Pure: the caller gives the time.
public struct RefusalLimiter: Sendable {
    /// What to do with one refusal.
    public enum Verdict: Sendable, Hashable {
        /// Journal it; `unjournaled` refusals of this uid were counted, not journaled, since the last one of it
        /// journaled (`elapsed` ago); `otherUIDs` refusals of uids that could not be remembered (``capacity``) too.
        case journal(unjournaled: Int, elapsed: Duration?, otherUIDs: Int = 0)
        /// Count it only.
        case count
    }

    struct Entry: Sendable {
        var journaledAt: ContinuousClock.Instant
        var unjournaled: Int
    }

    /// How long after a journaled refusal of a uid its next ones are only counted.
    public let window: Duration
    /// Uids remembered at most; beyond it, those whose window has passed with nothing counted are forgotten first.
    public let capacity: Int
    private var entries: [UInt32: Entry] = [:]
    /// Refusals counted while ``capacity`` uids were remembered and none could be forgotten.
    private var unremembered = 0

    public init(window: Duration = .seconds(60), capacity: Int = 4096) {
        self.window = window
        self.capacity = capacity
    }

    /// Uids remembered now.
    public var rememberedUIDs: Int { entries.count }

    /// A refusal of `uid` at `now`.
    public mutating func note(uid: UInt32, at now: ContinuousClock.Instant) -> Verdict {
        if let entry = entries[uid], now - entry.journaledAt < window {
            entries[uid]?.unjournaled += 1
            return .count
        }
        let previous = entries[uid]
        if previous == nil && entries.count >= capacity { forgetQuiet(at: now) }
        if previous == nil && entries.count >= capacity {
            // Every remembered uid is in its window or has a count to carry (many uids, e.g. a user namespace's):
            // counted, and the count goes with the next refusal journaled.
            unremembered += 1
            return .count
        }
        entries[uid] = Entry(journaledAt: now, unjournaled: 0)
        defer { unremembered = 0 }
        return .journal(unjournaled: previous?.unjournaled ?? 0, elapsed: previous.map { now - $0.journaledAt },
                        otherUIDs: unremembered)
    }

    /// Forgets the uids whose window has passed and that have no count to carry.
    private mutating func forgetQuiet(at now: ContinuousClock.Instant) {
        entries = entries.filter { $0.value.unjournaled > 0 || now - $0.value.journaledAt < window }
    }
}

/// One ``RefusalLimiter`` shared by every connection's thread.
public final class SharedRefusalLimiter: Sendable {
    private let limiter: Mutex<RefusalLimiter>
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(_ limiter: RefusalLimiter = RefusalLimiter(), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limiter = Mutex(limiter)
        self.now = now
    }

    public func note(uid: UInt32) -> RefusalLimiter.Verdict {
        let time = now()
        return limiter.withLock { $0.note(uid: uid, at: time) }
    }
}
