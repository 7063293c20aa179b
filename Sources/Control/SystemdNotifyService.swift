import ServiceLifecycle

/// systemd's side of a running agent: `WATCHDOG=1` at half of `WATCHDOG_USEC`, and `STATUS=` every
/// `statusPeriod`. First in the group, so it is stopped last: the watchdog keeps being fed while the others finish.
public struct SystemdNotifyService: Service {
    let runtime: AgentRuntime
    let statusPeriod: Duration

    public init(runtime: AgentRuntime, statusPeriod: Duration = .seconds(10)) {
        self.runtime = runtime
        self.statusPeriod = statusPeriod
    }

    public func run() async {
        let runtime = runtime
        guard runtime.notifier.socketPath != nil else {
            try? await gracefulShutdown()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            if let period = runtime.notifier.watchdogInterval {
                group.addTask {
                    // Only a live engine pings: a wedged actor lets systemd's watchdog restart the agent.
                    _ = await runtime.engine.graph
                    runtime.notify { try runtime.notifier.watchdog() }
                    await repeatUntilShutdown(every: period) {
                        _ = await runtime.engine.graph
                        runtime.notify { try runtime.notifier.watchdog() }
                    }
                }
            }
            group.addTask { [statusPeriod] in
                await repeatUntilShutdown(every: statusPeriod) {
                    let line = await runtime.statusLine()
                    runtime.notify { try runtime.notifier.status(line) }
                }
            }
        }
    }
}
