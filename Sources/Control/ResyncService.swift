import ServiceLifecycle

/// `--resync-interval`: a full rescan of sysfs every `interval`, through the gate, to catch whatever the event
/// stream missed; `STATUS=` after each. (An `ENOBUFS` overflow resyncs at once, in ``EventFollowerService``.)
public struct ResyncService: Service {
    let runtime: AgentRuntime
    let interval: Duration

    public init(runtime: AgentRuntime, interval: Duration) {
        self.runtime = runtime
        self.interval = interval
    }

    public func run() async {
        let runtime = runtime
        await repeatUntilShutdown(every: interval) {
            let engine = runtime.engine
            runtime.log(await runtime.gate.run("periodic resync") { await engine.resync() }, source: "resync")
            let line = await runtime.statusLine()
            runtime.notify { try runtime.notifier.status(line) }
        }
    }
}
