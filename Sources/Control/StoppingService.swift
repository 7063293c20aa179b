import ServiceLifecycle

/// Last in the group, so the first one told of a graceful shutdown: notes what is in flight at that moment (the
/// gate's label; it is let finish) and tells systemd `STOPPING=1`.
public struct StoppingService: Service {
    let runtime: AgentRuntime

    public init(runtime: AgentRuntime) { self.runtime = runtime }

    public func run() async {
        do { try await gracefulShutdown() } catch { return }
        let runtime = runtime
        let inFlight = await runtime.gate.inFlight
        if let inFlight { runtime.stop.record(inFlight: inFlight) }
        let status = "stopping" + (inFlight.map { " after \($0)" } ?? "")
        runtime.notify { try runtime.notifier.stopping(status: status) }
        runtime.logger.info("stopping", metadata: ["in_flight": "\(inFlight ?? "-")"], source: "agent")
    }
}
