import Synchronization
import SystemPackage

/// For tests: a journal disk that fills up on demand. The writer asks before each `write(2)`; a fault makes that
/// write fail with its errno (`ENOSPC` by default) exactly as a full file system would, until ``heal()``.
public final class JournalFaults: Sendable {
    private struct State {
        var errno: Errno?
        /// Records still allowed before the writes start failing.
        var allowance: Int?
        var refused = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Every write fails from now on.
    public func fill(_ errno: Errno = .noSpace) {
        state.withLock { $0.errno = errno; $0.allowance = nil }
    }

    /// The next `records` records are written; every write after them fails.
    public func fill(after records: Int, _ errno: Errno = .noSpace) {
        state.withLock { $0.errno = errno; $0.allowance = records }
    }

    /// Space is back: writes succeed again.
    public func heal() {
        state.withLock { $0.errno = nil; $0.allowance = nil }
    }

    /// How many writes failed so far.
    public var refusedWrites: Int { state.withLock { $0.refused } }

    /// The errno the write of `records` more records fails with, nil when it goes through.
    func fault(writing records: Int) -> Errno? {
        state.withLock { state in
            guard let errno = state.errno else { return nil }
            if let allowance = state.allowance, allowance >= records {
                state.allowance = allowance - records
                return nil
            }
            state.allowance = 0
            state.refused += 1
            return errno
        }
    }
}
