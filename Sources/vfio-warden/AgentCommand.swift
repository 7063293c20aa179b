import Agent
import ArgumentParser
import Control
import Dispatch
import Enforcement
import Foundation
import Journal
import Logging
import Sysfs
import Topology
import Udev
#if canImport(Glibc)
import Glibc
#endif

/// `vfio-warden agent`: the daemon. Listens to udev, keeps the graph, enforces assignments and `[[sriov]]`
/// rules, and journals every transition.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the enforcement agent: watch udev PCI events and keep assigned groups on vfio-pci.",
        discussion: """
            At start: take the run lock (--run-dir/agent.pid; a second agent refuses to start and names the pid \
            that holds it), listen to udev, scan sysfs, finish or roll back any plan a previous run left \
            unfinished (from the journal), apply the policy's [[sriov]] rules (sriov_drivers_autoprobe=0, then the \
            VF count, every VF to its vf_driver) and [[assign]] rules, and put back anything a host driver holds in \
            an assigned group. Then open the control socket and tell systemd READY=1 (Type=notify; WATCHDOG=1 at \
            half of WATCHDOG_USEC). For every PCI event: update the graph, and when a host driver claims a member \
            of an assigned group (or a new VF appears under a [[sriov]] PF), set driver_override, unbind it and \
            probe it back to vfio-pci. Events lost to a full socket buffer (ENOBUFS) and --resync-interval trigger \
            a full rescan. Every transition goes to the journal first (write-ahead). SIGHUP reloads the policy (an \
            invalid one is rejected and the old one kept). SIGTERM or SIGINT stops it after the step in flight, \
            journaling the stop.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("udev (after systemd-udevd, the default) or kernel (raw uevents, where no udevd runs).", valueName: "udev|kernel"))
    var source: WatchCommand.Source = .udev

    @Option(name: .customLong("resync-interval"), help: ArgumentHelp("Seconds between full rescans (0: only at start and on ENOBUFS).", valueName: "seconds"))
    var resyncInterval: Double = 300

    @Option(name: .customLong("run-dir"), help: ArgumentHelp("Where the run lock (agent.pid) and, by default, the control socket are.", valueName: "dir"))
    var runDirectory: String = "/run/vfio-warden"

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The control socket (default RUN-DIR/control.sock; @NAME: abstract).", valueName: "path"))
    var controlSocket: String?

    @Flag(name: .customLong("no-control-socket"), help: "Serve no control socket.")
    var noControlSocket = false

    @Option(name: .customLong("read-group"), help: ArgumentHelp("Members of this group may read over the control socket (status, list, plan); only root changes state.", valueName: "group"))
    var readGroup: String?

    @Option(help: ArgumentHelp("Stop after this many device events (for tests).", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds (for tests).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if resyncInterval < 0 { throw ValidationError("--resync-interval must be 0 or more seconds") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var agentLogger = Logger(label: "vfio-warden.agent")
        agentLogger[metadataKey: "pid"] = "\(getpid())"
        let logger = agentLogger
        // One writer: a second agent stops here, naming the first.
        let lock: RunLock
        do {
            lock = try RunLock(runDirectory: runDirectory)
        } catch {
            throw CommandFailure("cannot start the agent: \(error)")
        }
        defer { lock.release() }
        let readGID: UInt32?
        do {
            readGID = try readGroup.map { name throws(ControlSocketError) in try ControlAccess.resolveGroup(name) }
        } catch {
            throw CommandFailure("--read-group: \(error)")
        }
        // One descriptor per control connection: the soft limit (often 1,024) up to the hard one.
        let openFiles = OpenFileLimit.raiseToHardLimit()
        let notifier = SystemdNotifier.fromEnvironment(ProcessInfo.processInfo.environment)
        let root = try engine.global.resolvedRoot()
        // An unpacked tarball must outlive the agent, not just the last use of `root`.
        defer { withExtendedLifetime(root) {} }
        // Listen first: an event between the scan and the first receive is queued, never missed.
        let monitor = try UdevMonitor(source: source.monitorSource)
        defer { monitor.stop() }
        let (engine, journal, binding) = try engine.makeEngine(root: root.root, journaled: true)
        defer { journal?.close() }
        logger.info("agent starting", metadata: [
            "sysfs_root": "\(root.root)", "policy": "\(binding.policy.file)", "journal": "\(self.engine.journal)",
            "monitor_only": "\(binding.policy.isMonitorOnly)", "source": "\(source.rawValue)", "run_dir": "\(runDirectory)",
        ])
        // Crash recovery: plans the previous run journaled but never finished.
        if let records = try? JournalReader(directory: self.engine.journal).records() {
            log(await engine.recoverInterruptedPlans(from: records), logger)
        }
        log(await engine.start(version: VersionInfo.version), logger)
        let graph = await engine.graph

        let agentInfo = AgentStatus.Agent(version: VersionInfo.version, pid: getpid(), startedAt: Int64(time(nil)),
                                          policy: binding.policy.file, monitorOnly: binding.policy.isMonitorOnly,
                                          sysfsRoot: "\(root.root)", journal: self.engine.journal)
        let policyState = PolicyState(binding)
        let currentInfo: @Sendable () -> AgentStatus.Agent = {
            var info = agentInfo
            let current = policyState.binding
            info.policy = current.policy.file
            info.monitorOnly = current.policy.isMonitorOnly
            return info
        }
        let status: @Sendable () async -> String = {
            AgentStatus(agent: currentInfo(), statuses: await engine.statuses(), assignments: await engine.assignments).summaryLine
        }
        // Everything that changes state (udev events, resyncs, reloads, control requests) passes one at a time.
        let gate = SerialGate()
        var server: ControlServer?
        if !noControlSocket {
            let path = controlSocket ?? runDirectory + "/control.sock"
            let access = ControlAccess(readGroup: readGID, readGroupName: readGroup)
            let service = ControlService(engine: engine, journal: journal, agent: currentInfo, gate: gate,
                                         authorize: { access.decide($0, for: $1) })
            do {
                server = try ControlServer(path: path, group: readGID) { line, peer in
                    await service.handle(line: line, peer: peer).encodedLine()
                }
            } catch {
                throw CommandFailure("cannot open the control socket: \(error)")
            }
            server?.start()
            logger.info("control socket", metadata: ["path": "\(path)", "read_group": "\(readGroup ?? "-")", "open_files": "\(openFiles)"])
        }
        let summary = await status()
        notify(logger) { try notifier.ready(status: summary) }
        logger.info("ready", metadata: ["devices": "\(graph.devices.count)", "groups": "\(graph.groups.count)", "status": "\(summary)"])

        let stop = StopSignal()
        let hangup = HangupSignal()
        let limit = count
        let interval = resyncInterval
        let policyPath = self.engine.policyPath
        let procRoot = SysfsRoot(self.engine.procRoot)
        let sysfs = root.root
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var seen = 0
                for await event in monitor.events {
                    log(await gate.run { await engine.handle(event) }, logger)
                    if case .device = event { seen += 1 }
                    if let limit, seen >= limit { return }
                }
            }
            if interval > 0 {
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                        log(await gate.run { await engine.resync() }, logger)
                        let line = await status()
                        notify(logger) { try notifier.status(line) }
                    }
                }
            }
            if let period = notifier.watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        // Only a live engine pings: a wedged actor lets systemd's watchdog restart the agent.
                        _ = await engine.graph
                        notify(logger) { try notifier.watchdog() }
                        try await Task.sleep(for: period)
                    }
                }
            }
            if notifier.socketPath != nil {
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(10))
                        let line = await status()
                        notify(logger) { try notifier.status(line) }
                    }
                }
            }
            group.addTask {
                for await _ in hangup.events {
                    notify(logger) { try notifier.reloading() }
                    let outcome = await gate.run {
                        await PolicyReload.reload(engine: engine, journal: journal, path: policyPath, sysfs: sysfs, proc: procRoot)
                    }
                    if let binding = outcome.binding { policyState.binding = binding }
                    logger.info("SIGHUP: \(outcome.message)")
                    if let report = outcome.report { log(report, logger) }
                    let line = await status()
                    notify(logger) { try notifier.send(["READY=1", "STATUS=\(line)"]) }
                }
            }
            group.addTask { await stop.wait() }
            if let timeout {
                group.addTask { try await Task.sleep(for: .milliseconds(Int64(timeout * 1000))) }
            }
            try await group.next()
            // Whatever ended first, end the others: the monitor's stream, the signal waits and the control
            // socket's threads do not end on cancellation alone.
            notify(logger) { try notifier.stopping(status: "stopping") }
            server?.stop()
            monitor.stop()
            stop.release()
            hangup.finish()
            group.cancelAll()
        }
        monitor.stop()
        // A control request in flight finishes its plan (or its rollback) before the journal closes.
        if let server, !(await server.waitForRequests(timeout: .seconds(60))) {
            logger.warning("a control request was still running at stop")
        }
        let reason = stop.signalName.map { "received \($0)" } ?? "done"
        _ = try? await journal?.append(.agentStopped(AgentStopped(reason: reason)), cause: .agent(reason))
        logger.info("agent stopped", metadata: ["reason": "\(reason)"])
    }
}

/// A systemd notification that failed is logged, never fatal.
private func notify(_ logger: Logger, _ body: () throws -> Void) {
    do { try body() } catch { logger.warning("sd_notify: \(error)") }
}

/// The policy in force, swapped by SIGHUP (read by the status line).
private final class PolicyState: @unchecked Sendable {
    private let lock = NSLock()
    private var current: PolicyBinding
    init(_ binding: PolicyBinding) { current = binding }
    var binding: PolicyBinding {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// SIGHUP as an async sequence of reload requests (a `DispatchSource` signal source; the default action is ignored).
final class HangupSignal: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private let continuation: AsyncStream<Void>.Continuation
    let events: AsyncStream<Void>

    init() {
        (events, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "vfio-warden.sighup"))
        let continuation = continuation
        source.setEventHandler { continuation.yield() }
        source.resume()
    }

    func finish() {
        continuation.finish()
        source.cancel()
    }
}

/// One log line per thing the engine did.
private func log(_ report: Engine.Report, _ logger: Logger) {
    for line in ReportText.lines(report) { logger.info("\(line)") }
}

/// SIGTERM and SIGINT, as an awaitable event (`DispatchSource` signal sources; the default action is ignored).
final class StopSignal: @unchecked Sendable {
    private let queue = DispatchQueue(label: "vfio-warden.signals")
    private var sources: [DispatchSourceSignal] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private var fired = false
    private(set) var signalName: String?

    init() {
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(name) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ name: String?) {
        guard !fired else { return }
        fired = true
        signalName = name
        continuation?.resume()
        continuation = nil
    }

    /// Ends ``wait()`` without a signal (the agent stops for another reason).
    func release() {
        queue.async { self.fire(nil) }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            queue.async {
                if self.fired { continuation.resume() } else { self.continuation = continuation }
            }
        }
    }
}
