import Journal
import Synchronization
import UnixSignals

/// Why the agent stops and what it let finish first, for the `agent_stopped` record.
///
/// The first reason recorded wins: a stop signal (`received SIGTERM`, seen by ``watchStopSignals(_:)``), or the
/// service that ended the run (`--count`, `--timeout`, the event stream ending).
public final class AgentStop: Sendable {
    private struct State {
        var reason: String?
        var inFlight: [String] = []
    }
    private let state = Mutex(State())

    public init() {}

    public func record(reason: String) {
        state.withLock { if $0.reason == nil { $0.reason = reason } }
    }

    /// What was running when the stop began (the gate's label), let finish before the agent stopped.
    public func record(inFlight label: String) {
        state.withLock { if !$0.inFlight.contains(label) { $0.inFlight.append(label) } }
    }

    public var reason: String? { state.withLock { $0.reason } }
    public var inFlight: [String] { state.withLock { $0.inFlight } }

    /// Names the first stop signal delivered to the process (`received SIGTERM`) and calls `stop`. The agent traps
    /// the stop signals at its very start, so one that comes during start-up reconciliation waits for it to end
    /// (`ServiceGroup.triggerGracefulShutdown()` before `run()` is remembered); once the group runs it traps them too.
    public func watchStopSignals(_ signals: UnixSignalsSequence, stop: @Sendable () async -> Void) async {
        for await signal in signals {
            record(reason: "received \(signal)")
            await stop()
            return
        }
    }

    /// The reason, waiting up to `grace` for a signal's name when none is recorded yet (the service group may see a
    /// signal a moment before ``watchStopSignals(_:)`` does); `done` when there is none.
    public func settledReason(grace: Duration = .seconds(1)) async -> String {
        let deadline = ContinuousClock.now + grace
        while reason == nil && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return reason ?? "done"
    }

    /// The `agent_stopped` event.
    public func event(reason: String) -> JournalEvent {
        .agentStopped(AgentStopped(reason: reason, inFlight: inFlight))
    }
}
