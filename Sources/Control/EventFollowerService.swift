import Agent
import ServiceLifecycle
import Topology

/// The udev follower: every event from the monitor passes the gate to the engine (graph update, enforcement). An
/// overflow (`ENOBUFS`: events were lost) makes the engine rescan everything at once.
///
/// At graceful shutdown it takes no new event; the one in flight finishes (its plan completes, or the executor rolls
/// it back) before ``run()`` returns. With `limit`, it stops the agent after that many device events (tests).
public struct EventFollowerService: Service {
    let runtime: AgentRuntime
    let events: AsyncStream<MonitorEvent>
    let limit: Int?
    /// Ends the event source (the udev monitor's thread and socket).
    let stopSource: @Sendable () -> Void

    public init(runtime: AgentRuntime, events: AsyncStream<MonitorEvent>, limit: Int? = nil, stopSource: @escaping @Sendable () -> Void) {
        self.runtime = runtime
        self.events = events
        self.limit = limit
        self.stopSource = stopSource
    }

    public func run() async {
        defer { stopSource() }
        var seen = 0
        for await event in events.cancelOnGracefulShutdown() {
            let engine = runtime.engine
            runtime.log(await runtime.gate.run(Self.label(event)) { await engine.handle(event) })
            if case .device = event { seen += 1 }
            if let limit, seen >= limit {
                runtime.stop.record(reason: "handled \(seen) device event\(seen == 1 ? "" : "s") (--count)")
                return
            }
        }
        if !Task.isShuttingDownGracefully && !Task.isCancelled {
            runtime.stop.record(reason: "the event stream ended")
        }
    }

    /// `udev bind 0000:03:01.0`, `udev overflow (ENOBUFS): full rescan`.
    static func label(_ event: MonitorEvent) -> String {
        switch event {
        case .device(let device): "udev \(device.action.rawValue) \(device.address)"
        case .overflow: "udev overflow (ENOBUFS): full rescan"
        }
    }
}
