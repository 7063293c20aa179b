import Agent
import ArgumentParser
import Dispatch
import Enforcement
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
            At start: listen to udev, scan sysfs, apply the policy's [[sriov]] rules (sriov_drivers_autoprobe=0, \
            then the VF count, every VF to its vf_driver) and [[assign]] rules, and put back anything a host \
            driver holds in an assigned group. Then, for every PCI event: update the graph, and when a host driver \
            claims a member of an assigned group (or a new VF appears under a [[sriov]] PF), set driver_override, \
            unbind it and probe it back to vfio-pci. Events lost to a full socket buffer (ENOBUFS) and \
            --resync-interval trigger a full rescan. Every transition goes to the journal first (write-ahead). \
            SIGTERM or SIGINT stops it after the step in flight, journaling the stop.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("udev (after systemd-udevd, the default) or kernel (raw uevents, where no udevd runs).", valueName: "udev|kernel"))
    var source: WatchCommand.Source = .udev

    @Option(name: .customLong("resync-interval"), help: ArgumentHelp("Seconds between full rescans (0: only at start and on ENOBUFS).", valueName: "seconds"))
    var resyncInterval: Double = 300

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
            "monitor_only": "\(binding.policy.isMonitorOnly)", "source": "\(source.rawValue)",
        ])
        log(await engine.start(version: VersionInfo.version), logger)
        let graph = await engine.graph
        logger.info("ready", metadata: ["devices": "\(graph.devices.count)", "groups": "\(graph.groups.count)"])

        let stop = StopSignal()
        let limit = count
        let interval = resyncInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var seen = 0
                for await event in monitor.events {
                    log(await engine.handle(event), logger)
                    if case .device = event { seen += 1 }
                    if let limit, seen >= limit { return }
                }
            }
            if interval > 0 {
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                        log(await engine.resync(), logger)
                    }
                }
            }
            group.addTask { await stop.wait() }
            if let timeout {
                group.addTask { try await Task.sleep(for: .milliseconds(Int64(timeout * 1000))) }
            }
            try await group.next()
            // Whatever ended first, end the others: the monitor's stream and the signal wait do not end on
            // cancellation alone.
            monitor.stop()
            stop.release()
            group.cancelAll()
        }
        monitor.stop()
        let reason = stop.signalName.map { "received \($0)" } ?? "done"
        _ = try? await journal?.append(.agentStopped(AgentStopped(reason: reason)), cause: .agent(reason))
        logger.info("agent stopped", metadata: ["reason": "\(reason)"])
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
