import ServiceLifecycle

/// `--timeout` (tests): stops the agent gracefully after `duration`, unless it stops sooner.
public struct DeadlineService: Service {
    let runtime: AgentRuntime
    let duration: Duration

    public init(runtime: AgentRuntime, duration: Duration) {
        self.runtime = runtime
        self.duration = duration
    }

    public func run() async {
        do {
            try await cancelWhenGracefulShutdown { [duration] in try await Task.sleep(for: duration) }
            runtime.stop.record(reason: "--timeout reached")
        } catch {
            // Stopped sooner, for another reason.
        }
    }
}
