import Testing
import Foundation
import Logging
import ServiceLifecycle
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// The agent's run loop as the `agent` command builds it (``AgentServiceGroup``), on the simulated kernel, with
/// the stop triggered by the test (no signals: a test process must not trap SIGTERM) and a test notify socket.
@Suite(.serialized) struct AgentServiceGroupTests {
    struct Running {
        let host: TestHost
        let engine: Engine
        let journal: JournalWriter
        let runtime: AgentRuntime
        let listener: NotifyListener
        let group: ServiceLifecycle.ServiceGroup
        let task: Task<Void, Error>
        let events: AsyncStream<MonitorEvent>.Continuation
        let reloads: AsyncStream<Void>.Continuation

        /// Triggers the graceful stop and waits for the group to end.
        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }

        var records: [JournalRecord] { get throws { try JournalReader(directory: host.journalDirectory).records() } }
    }

    /// An engine holding the e1000's group for vm1, and the agent's services around it.
    func start(_ host: TestHost, watchdogMicroseconds: UInt64? = nil, limit: Int? = nil, resync: Duration? = nil,
               policyPath: String? = nil, settled: @escaping @Sendable (PolicyReload.Outcome) -> Void = { _ in }) async throws -> Running {
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal, stepTimeout: .seconds(60))
        _ = await engine.start(version: "test")
        let assigned = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        #expect(assigned.actions.allSatisfy { $0.result.outcome == .completed })
        let listener = try NotifyListener(path: host.directory + "/notify")
        let notifier = SystemdNotifier(socketPath: listener.path, watchdogMicroseconds: watchdogMicroseconds)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = AgentRuntime(engine: engine, journal: journal, gate: SerialGate(), notifier: notifier, logger: logger,
                                   statusLine: { "enforcing: test" })
        let (events, eventInput) = AsyncStream.makeStream(of: MonitorEvent.self)
        let (reloads, reloadInput) = AsyncStream.makeStream(of: Void.self)
        let follower = EventFollowerService(runtime: runtime, events: events, limit: limit) { eventInput.finish() }
        let reload = PolicyReloadService(runtime: runtime, requests: reloads, path: policyPath, sysfs: host.root,
                                         proc: SysfsRoot(host.directory + "/proc"), settled: settled)
        let group = AgentServiceGroup.make(runtime: runtime, follower: follower, reload: reload, control: nil,
                                           resyncInterval: resync, deadline: nil, statusPeriod: .seconds(3600), signals: [])
        let task = Task { try await group.run() }
        return Running(host: host, engine: engine, journal: journal, runtime: runtime, listener: listener, group: group,
                       task: task, events: eventInput, reloads: reloadInput)
    }

    /// A host driver takes the e1000 back (vfio-pci unbound, e1000 bound), as a module load or a hand would.
    func hostDriverClaimsTheE1000(_ host: TestHost) throws {
        try host.kernel.write("\n", to: "bus/pci/devices/0000:03:01.0/driver_override")
        try host.kernel.write("0000:03:01.0", to: "bus/pci/drivers/vfio-pci/unbind")
        try host.kernel.write("0000:03:01.0", to: "bus/pci/drivers/e1000/bind")
    }

    /// A resync after start-up (start-up reconciliation journals one too, caused by `agent`).
    func isResync(_ record: JournalRecord) -> Bool {
        record.kind == .agentResynced && record.cause?.source == .resync
    }

    /// The next notification, received on a thread of its own (the socket read blocks, up to 5 s).
    func next(_ listener: NotifyListener) async throws -> String? {
        try await onThread { listener.receive() }
    }

    func driver(of address: PCIAddress, _ host: TestHost) throws -> String? {
        try TopologyGraph.scan(root: host.root).devices[address]?.driver
    }

    @Test func aGracefulStopFinishesThePlanInFlightAndJournalsIt() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host)
        // Enforcement will hang in the e1000's unbind (a driver's slow remove()) until the gate opens.
        let gate = WriteGate()
        defer { gate.release() }
        host.kernel.inject(.hang(gate), on: "bus/pci/drivers/e1000/unbind")
        try hostDriverClaimsTheE1000(host)
        for event in host.kernel.takeEmittedEvents() { running.events.yield(.device(event)) }
        await waitUntil { gate.isHoldingAWriter }
        #expect(gate.isHoldingAWriter)

        await running.group.triggerGracefulShutdown()
        // STOPPING=1 at once, naming what is being let finish; the group waits for it.
        let stopping = try #require(try await next(running.listener))
        #expect(stopping.hasPrefix("STOPPING=1\nSTATUS=stopping after udev "), "\(stopping)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(gate.isHoldingAWriter)
        // Another event after the stop began is not taken.
        running.events.yield(.overflow)
        gate.release()
        try await running.task.value
        running.journal.close()

        #expect(try driver(of: TestHost.e1000, host) == "vfio-pci")
        let inFlight = running.runtime.stop.inFlight
        #expect(inFlight.count == 1 && inFlight[0].hasPrefix("udev ") && inFlight[0].hasSuffix("0000:03:01.0"), "\(inFlight)")
        let records = try running.records
        // The plan ended (its steps finished), no resync ran for the overflow sent after the stop began.
        #expect(InterruptedPlan.find(in: records).isEmpty)
        #expect(records.contains { if case .stepFinished(let step) = $0.event { step.operation.contains("unbind") && step.succeeded } else { false } })
        #expect(!records.contains(where: isResync))
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
        // What the command journals with it.
        guard case .agentStopped(let stopped) = running.runtime.stop.event(reason: "received SIGTERM") else {
            Issue.record("not agent_stopped"); return
        }
        #expect(stopped.inFlight == inFlight)
    }

    @Test func anOverflowOnTheEventStreamResyncsAtOnce() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host)
        // The claim's events are lost (ENOBUFS): only the overflow marker arrives.
        try hostDriverClaimsTheE1000(host)
        _ = host.kernel.takeEmittedEvents()
        #expect(try driver(of: TestHost.e1000, host) == "e1000")
        running.events.yield(.overflow)
        try await waitUntil { try driver(of: TestHost.e1000, host) == "vfio-pci" }
        try await running.stop()
        running.journal.close()
        #expect(try driver(of: TestHost.e1000, host) == "vfio-pci")
        let resyncs = try running.records.filter(isResync)
        #expect(resyncs.count == 1)
        #expect(resyncs.first?.cause?.detail?.contains("ENOBUFS") == true)
    }

    @Test func thePeriodicResyncCatchesWhatTheEventStreamMissed() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host, resync: .milliseconds(100))
        try hostDriverClaimsTheE1000(host)
        _ = host.kernel.takeEmittedEvents()   // never delivered
        try await waitUntil { try driver(of: TestHost.e1000, host) == "vfio-pci" }
        #expect(try driver(of: TestHost.e1000, host) == "vfio-pci")
        try await running.stop()
        running.journal.close()
        #expect(try !running.records.filter(isResync).isEmpty)
        #expect(try running.records.contains { $0.kind == .actionPlanned && $0.cause?.source == .resync })
    }

    @Test func withoutAResyncIntervalNothingRescans() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host, resync: nil)
        try hostDriverClaimsTheE1000(host)
        _ = host.kernel.takeEmittedEvents()
        try await Task.sleep(for: .milliseconds(300))
        try await running.stop()
        running.journal.close()
        #expect(try driver(of: TestHost.e1000, host) == "e1000")
        #expect(try !running.records.contains(where: isResync))
    }

    @Test func aReloadRequestLoadsAValidPolicyAndKeepsTheOldOneForAnInvalidOne() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let file = host.directory + "/policy.toml"
        let bindings = LockedBox<[String]>([])
        let running = try await start(host, policyPath: file) { outcome in
            bindings.mutate { $0.append(outcome.binding?.policy.file ?? "rejected: " + (outcome.rejection ?? "?")) }
        }

        try "[manage]\ndevices = [\"0000:03:01.0\", \"03:1\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        running.reloads.yield()
        #expect(try await next(running.listener) == "RELOADING=1")
        #expect(try await next(running.listener) == "READY=1\nSTATUS=enforcing: test")
        #expect(bindings.value.count == 1 && bindings.value[0].hasPrefix("rejected: reload rejected: \(file):2:"), "\(bindings.value)")

        try "[manage]\ndevices = [\"0000:03:01.0\", \"0000:03:02.0\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        running.reloads.yield()
        #expect(try await next(running.listener) == "RELOADING=1")
        #expect(try await next(running.listener) == "READY=1\nSTATUS=enforcing: test")
        #expect(bindings.value.count == 2 && bindings.value.last == file, "\(bindings.value)")

        try await running.stop()
        running.journal.close()
        let kinds = try running.records.map(\.kind).filter { $0 == .policyLoaded || $0 == .policyRejected }
        #expect(kinds == [.policyRejected, .policyLoaded])
    }

    @Test func theEventLimitStopsTheGroupByItself() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host, limit: 1)
        running.events.yield(.device(DeviceEvent(action: .change, address: TestHost.virtio, seqnum: 1)))
        try await running.task.value
        #expect(running.runtime.stop.reason == "handled 1 device event (--count)")
        #expect(try await next(running.listener)?.hasPrefix("STOPPING=1") == true)
        running.journal.close()
    }

    @Test func theWatchdogIsFedWhileTheAgentRuns() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let running = try await start(host, watchdogMicroseconds: 100_000)
        #expect(try await next(running.listener) == "WATCHDOG=1")
        #expect(try await next(running.listener) == "WATCHDOG=1")
        try await running.stop()
        running.journal.close()
    }
}

/// A value several tasks may read and change.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
