import Agent
import ArgumentParser
import Control
import Dispatch
import Enforcement
import Foundation
import Journal
import Logging
import SimulatedKernel
import Sysfs
import Topology
import Udev
import UnixSignals
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
            invalid one is rejected and the old one kept). SIGTERM or SIGINT stops it gracefully (STOPPING=1): no \
            new event or request is taken, the step in flight finishes (or the executor rolls its plan back), and \
            agent_stopped is journaled with the signal and what was in flight; one that comes during start-up \
            stops it once start-up is done.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("udev (after systemd-udevd, the default) or kernel (raw uevents, where no udevd runs).", valueName: "udev|kernel"))
    var source: WatchCommand.Source = .udev

    @Option(name: .customLong("resync-interval"), help: ArgumentHelp("Seconds between full rescans (0: only at start and on ENOBUFS).", valueName: "seconds"))
    var resyncInterval: Double = 300

    @Option(name: .customLong("run-dir"), help: ArgumentHelp(
        "Where the run lock (agent.pid) and, by default, the control socket are; default /run/vfio-warden, or for "
            + "another --sysfs-root D/sys D/run/vfio-warden.", valueName: "dir"))
    var runDirectoryOption: String?

    /// `--run-dir`, or the default for `--sysfs-root` (``StateLocations``).
    var runDirectory: String { runDirectoryOption ?? StateLocations.runDirectory(for: engine.global.sysfsRoot) }

    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The control socket (default RUN-DIR/control.sock; @NAME: abstract).", valueName: "path"))
    var controlSocket: String?

    @Flag(name: .customLong("no-control-socket"), help: "Serve no control socket.")
    var noControlSocket = false

    @Option(name: .customLong("read-group"), help: ArgumentHelp("Members of this group may read over the control socket (status, list, plan); only root changes state. Anyone else is refused at connect, and the refusal journaled (once a minute per uid).", valueName: "group"))
    var readGroup: String?

    @Option(name: .customLong("flapping-threshold"), help: ArgumentHelp(
        "Repairs of one device within --flapping-window that make it flapping: journaled once, each further repair after a back-off (1 s doubling to 30 s). A benchmark that fights the agent on purpose raises it.",
        valueName: "n"))
    var flappingThreshold: Int = 5

    @Option(name: .customLong("flapping-window"), help: ArgumentHelp("Seconds in which --flapping-threshold repairs of one device make it flapping.", valueName: "seconds"))
    var flappingWindow: Double = 60

    @Option(help: ArgumentHelp("Stop after this many device events (for tests).", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds (for tests).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if resyncInterval < 0 { throw ValidationError("--resync-interval must be 0 or more seconds") }
        if flappingThreshold < 1 { throw ValidationError("--flapping-threshold must be 1 or more repairs") }
        if !(flappingWindow > 0) { throw ValidationError("--flapping-window must be more than 0 seconds") }
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
            // Beside a tree, the run directory's parents (D/run) may not exist yet.
            if runDirectoryOption == nil && !StateLocations.isHost(engine.global.sysfsRoot) {
                try? FileManager.default.createDirectory(atPath: StateLocations.base(of: runDirectory), withIntermediateDirectories: true)
            }
            lock = try RunLock(runDirectory: runDirectory)
        } catch {
            throw CommandFailure("cannot start the agent: \(error)")
        }
        defer { lock.release() }
        // From here on SIGTERM and SIGINT no longer kill: one that comes during start-up reconciliation stops the
        // agent once it is done.
        let stopSignals = await UnixSignalsSequence(trapping: AgentServiceGroup.stopSignals)
        let reloads = await UnixSignalsSequence(trapping: .sighup)
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
        // Tests only (`--simulated-kernel`): the writes go to a simulated kernel over the tree, whose events replace udev's.
        let kernel = try engine.makeSimulatedKernel(root: root.root)
        // Listen first: an event between the scan and the first receive is queued, never missed.
        let udevMonitor = kernel == nil ? try UdevMonitor(source: source.monitorSource) : nil
        defer { udevMonitor?.stop() }
        // A root that is not a live sysfs (a snapshot) may be watched, never written.
        let writer: (any SysfsAttributeWriter)? = kernel ?? (LiveSysfs.isSysfs(root.root.path) ? nil
            : StaticTreeWriter(root: root.root, given: engine.global.sysfsRoot))
        // Everything that changes state (udev events, resyncs, reloads, control requests, a repair put off by a
        // flapping back-off) passes one at a time.
        let gate = SerialGate()
        let flapping = FlapDetector.Settings(threshold: flappingThreshold, window: .milliseconds(Int64(flappingWindow * 1000)))
        let (engine, journal, binding) = try engine.makeEngine(root: root.root, journaled: true, writer: writer, flapping: flapping, scheduleWakeUp: { delay, wake in
            Task {
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled else { return }
                await gate.run("repair after a flapping back-off") { await wake() }
            }
        })
        defer { journal?.close() }
        logger.info("agent starting", metadata: [
            "sysfs_root": "\(root.root)", "policy": "\(binding.policy.file)", "journal": "\(self.engine.journal)",
            "monitor_only": "\(binding.policy.isMonitorOnly)", "source": "\(source.rawValue)", "run_dir": "\(runDirectory)",
        ])
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
        // systemd's STATUS= (what `systemctl status` shows): the summary, and a rejected reload until one succeeds
        // (`systemctl reload` itself cannot fail: ExecReload= only sends SIGHUP).
        let status: @Sendable () async -> String = {
            var info = currentInfo()
            info.journalProblem = await engine.journalProblem
            let summary = AgentStatus(agent: info, statuses: await engine.statuses(), assignments: await engine.assignments,
                                      flapping: await engine.flappingDevices()).summaryLine
            return summary + (policyState.rejection.map { "; \($0)" } ?? "")
        }
        let runtime = AgentRuntime(engine: engine, journal: journal, gate: gate, notifier: notifier, logger: logger, statusLine: status)
        // Crash recovery: plans the previous run journaled but never finished. A journal file that cannot be read
        // is said loudly (log, journal): the plans it holds cannot be recovered, start-up enforcement still runs.
        do {
            let records = try JournalReader(directory: self.engine.journal).records()
            runtime.log(await engine.recoverInterruptedPlans(from: records), source: "recovery")
        } catch {
            let problem = "crash recovery skipped: cannot read the journal in \(self.engine.journal): \(error); plans the last run left unfinished are not recovered (start-up enforcement still runs)"
            logger.error("\(problem)")
            do {
                try await journal?.append(.recordRefused(RecordRefused(reason: problem)), cause: .agent("crash recovery"))
            } catch {
                logger.error("cannot journal that crash recovery was skipped: \(error)")
            }
        }
        runtime.log(await engine.start(version: VersionInfo.version), source: "start")
        if let kernel {
            // On a simulated kernel nothing but the agent's own writes makes events: handle them until none are
            // left, then stop. A one-shot agent (start-up reconciliation and its consequences), for crash tests.
            for _ in 0..<64 {
                let events = kernel.takeEmittedEvents()
                if events.isEmpty { break }
                for event in events { runtime.log(await engine.handle(.device(event))) }
            }
            _ = try? await journal?.append(.agentStopped(AgentStopped(reason: "done")), cause: .agent("done"))
            logger.info("agent stopped", metadata: ["reason": "done (simulated kernel, no events left)"])
            return
        }
        // Created whenever no simulated kernel is.
        let monitor = udevMonitor!
        let graph = await engine.graph

        var server: ControlServer?
        if !noControlSocket {
            let path = controlSocket ?? runDirectory + "/control.sock"
            let access = ControlAccess(readGroup: readGID, readGroupName: readGroup)
            let service = ControlService(engine: engine, journal: journal, agent: currentInfo, gate: gate,
                                         authorize: { access.decide($0, for: $1) }, admit: { access.decideConnection(for: $0) })
            do {
                server = try ControlServer(path: path, screen: { await service.screen($0)?.encodedLine() }) { line, peer in
                    await service.handle(line: line, peer: peer).encodedLine()
                }
            } catch {
                throw CommandFailure("cannot open the control socket: \(error)")
            }
            server?.start()
            logger.info("control socket", metadata: ["path": "\(path)", "read_group": "\(readGroup ?? "-")", "open_files": "\(openFiles)"])
        }
        let summary = await status()
        runtime.notify { try notifier.ready(status: summary) }
        logger.info("ready", metadata: ["devices": "\(graph.devices.count)", "groups": "\(graph.groups.count)", "status": "\(summary)"])

        let reload = PolicyReloadService(runtime: runtime, requests: reloads, path: self.engine.policyPath, sysfs: root.root,
                                         proc: SysfsRoot(self.engine.proc.path)) { outcome in
            if let binding = outcome.binding {
                policyState.binding = binding
                policyState.rejection = nil
            } else {
                policyState.rejection = outcome.rejection
            }
        }
        let follower = EventFollowerService(runtime: runtime, events: monitor.events, limit: count) { monitor.stop() }
        let group = AgentServiceGroup.make(
            runtime: runtime, follower: follower, reload: reload,
            control: server.map { ControlSocketService(server: $0, runtime: runtime) },
            resyncInterval: resyncInterval > 0 ? .milliseconds(Int64(resyncInterval * 1000)) : nil,
            deadline: timeout.map { .milliseconds(Int64($0 * 1000)) })
        // The group stops on SIGTERM/SIGINT by itself once it runs; this names the signal for the journal, and
        // stops the group for a signal that came before it ran.
        let signalWitness = Task { await runtime.stop.watchStopSignals(stopSignals) { await group.triggerGracefulShutdown() } }
        defer { signalWitness.cancel() }
        do {
            try await group.run()
        } catch {
            logger.error("the agent's services ended with an error: \(error)")
        }
        monitor.stop()
        let reason = await runtime.stop.settledReason()
        _ = try? await journal?.append(runtime.stop.event(reason: reason), cause: .agent(reason))
        logger.info("agent stopped", metadata: ["reason": "\(reason)", "in_flight": "\(runtime.stop.inFlight)"])
    }
}

/// The policy in force, swapped by SIGHUP (read by the status line), and the last reload's rejection until one succeeds.
private final class PolicyState: @unchecked Sendable {
    private let lock = NSLock()
    private var current: PolicyBinding
    private var lastRejection: String?
    init(_ binding: PolicyBinding) { current = binding }
    var binding: PolicyBinding {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
    var rejection: String? {
        get { lock.withLock { lastRejection } }
        set { lock.withLock { lastRejection = newValue } }
    }
}
