import Agent
import ServiceLifecycle
import Sysfs

/// SIGHUP: every element of `requests` (the agent passes `UnixSignalsSequence(trapping: .sighup)`) reloads the
/// policy through the gate (``PolicyReload``): `RELOADING=1`, then `READY=1` with the new status. A rejected policy
/// keeps the old one in force; both outcomes are journaled.
public struct PolicyReloadService<Requests: AsyncSequence & Sendable>: Service where Requests.Element: Sendable {
    let runtime: AgentRuntime
    let requests: Requests
    let path: String?
    let sysfs: SysfsRoot
    let proc: SysfsRoot
    /// Told each reload's outcome: the new binding when a policy was loaded, the rejection otherwise (the status
    /// line names the policy in force, and a rejection until a reload succeeds).
    let settled: @Sendable (PolicyReload.Outcome) -> Void

    public init(runtime: AgentRuntime, requests: Requests, path: String?, sysfs: SysfsRoot, proc: SysfsRoot,
                settled: @escaping @Sendable (PolicyReload.Outcome) -> Void) {
        self.runtime = runtime
        self.requests = requests
        self.path = path
        self.sysfs = sysfs
        self.proc = proc
        self.settled = settled
    }

    public func run() async throws {
        for try await _ in requests.cancelOnGracefulShutdown() {
            await reloadOnce()
        }
    }

    func reloadOnce() async {
        let runtime = runtime
        let (path, sysfs, proc) = (path, sysfs, proc)
        runtime.notify { try runtime.notifier.reloading() }
        let outcome = await runtime.gate.run("SIGHUP reload") {
            await PolicyReload.reload(engine: runtime.engine, journal: runtime.journal, path: path, sysfs: sysfs, proc: proc)
        }
        settled(outcome)
        runtime.logger.info("SIGHUP: \(outcome.message)", source: "reload")
        if let report = outcome.report { runtime.log(report, source: "reload") }
        let line = await runtime.statusLine()
        runtime.notify { try runtime.notifier.send(["READY=1", "STATUS=\(line)"]) }
    }
}
