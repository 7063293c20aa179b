import Enforcement
import Journal

/// Journals every refused `assign`, `release` and `plan` request, through the agent's control socket and with
/// `--direct` alike: who (the cause: uid, pid and the request), what (the request) and why (each refusal with its
/// device), as a `record_refused` record. Rate-limited per uid like refused connections (``RefusalLimiter``): the
/// first refusal of a uid in a window is journaled, the others are counted and the count goes with its next one, so
/// a user allowed to plan cannot flood the journal.
public struct RefusedRequests: Sendable {
    public let limiter: SharedRefusalLimiter

    public init(_ limiter: SharedRefusalLimiter = SharedRefusalLimiter()) {
        self.limiter = limiter
    }

    /// `request refused: assign 0000:00:1f.2 --owner vm2: 0000:00:1f.2: is in use by the host: ...; ...`, or `nil`
    /// when no plan is refused.
    public static func reason(request: String, plans: [Plan]) -> String? {
        let refusals = plans.filter(\.isRefused).flatMap(\.refusals).map(\.description)
        guard !refusals.isEmpty else { return nil }
        return "request refused: \(request): " + refusals.joined(separator: "; ")
    }

    /// Journals the refused `plans` of `request` from `uid` (unless counted only), with `cause`. A journal that
    /// cannot be written is returned as a note for the caller to show, never thrown: the refusal stands either way.
    @discardableResult
    public func journal(_ plans: [Plan], request: String, uid: UInt32, cause: Cause, to journal: JournalWriter?) async -> String? {
        guard let journal, var text = Self.reason(request: request, plans: plans) else { return nil }
        guard case .journal(let unjournaled, let elapsed, let otherUIDs) = limiter.note(uid: uid) else { return nil }
        if unjournaled > 0, let elapsed {
            text += "; and \(unjournaled) more refused request\(unjournaled == 1 ? "" : "s") of uid \(uid) in the "
                + "\(elapsed.components.seconds) s since its last one journaled, counted, not journaled"
        }
        if otherUIDs > 0 { text += "; and \(otherUIDs) of uids too many to remember, counted, not journaled" }
        do {
            try await journal.append(.recordRefused(RecordRefused(reason: text)), cause: cause)
            return nil
        } catch {
            return "the refusal could not be journaled: \(error)"
        }
    }
}
