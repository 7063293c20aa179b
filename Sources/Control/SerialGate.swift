/// One at a time, in arrival order, across suspension points. The engine is an actor, but an actor is reentrant:
/// while one `assign` awaits its journal or a sysfs write, another request could plan against the state before
/// the first one's outcome. Requests that change state pass this gate so they never interleave; the agent passes
/// its udev events, resyncs and reloads through the same gate.
///
/// Each passage may carry a label (`udev bind 0000:03:01.0`, `SIGHUP reload`): ``inFlight`` names the one running,
/// so a graceful stop can journal what it let finish.
public actor SerialGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// The label of the passage running now, `nil` when idle (or when it carries none).
    public private(set) var inFlight: String?

    public init() {}

    public func run<T: Sendable>(_ label: String? = nil, _ body: @Sendable () async -> T) async -> T {
        await acquire()
        inFlight = label
        let result = await body()
        inFlight = nil
        release()
        return result
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}
