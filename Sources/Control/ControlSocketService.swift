import ServiceLifecycle

/// The control socket as a service. The server is opened and started before the group runs (READY=1 promises an
/// open socket); at graceful shutdown it stops taking connections and lets the requests in flight finish their plan
/// (or its rollback) before the journal closes.
public struct ControlSocketService: Service {
    let server: ControlServer
    let runtime: AgentRuntime
    let drainTimeout: Duration

    public init(server: ControlServer, runtime: AgentRuntime, drainTimeout: Duration = .seconds(60)) {
        self.server = server
        self.runtime = runtime
        self.drainTimeout = drainTimeout
    }

    public func run() async {
        try? await gracefulShutdown()
        server.stop()
        if !(await server.waitForRequests(timeout: drainTimeout)) {
            runtime.logger.warning("a control request was still running at stop")
        }
    }
}
