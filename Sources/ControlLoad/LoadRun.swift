import Agent
import Control
import Dispatch
import Enforcement
import Foundation
import Journal
import SimulatedKernel
import Synchronization
import Sysfs
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// A load run against the agent's parts as `vfio-warden agent` wires them (engine, serial gate, control service
/// and server, an event loop that passes each event through the gate), on the q35 example host under a simulated
/// kernel: group 4 (03:01.0, 03:02.0) `[[assign]]`ed to `vm-load`, an `[[sriov]]` rule on the NVMe PF 02:00.0.
///
/// Each round, `clients` connections are opened at once (all accepted or queued before any sends), each sends
/// status, list, plan, an idempotent assign and malformed lines, while the storm creates and removes VFs and a
/// host driver claims an assigned member now and then. Checked: one reply per request, in order, saying what it
/// should; no SEQNUM gap without an overflow before it, each overflow answered by a journaled resync; the graph
/// equal to a fresh scan; the assigned group and every VF on vfio-pci; the journal intact; RSS after each round.
public struct LoadRun: Sendable {
    public struct Configuration: Sendable {
        public var clients = 1000
        public var requestsPerClient = 6
        /// Uevents the storm's own happenings emit per round (the agent's writes add their own).
        public var stormEvents = 10_000
        /// The event loop's receive queue, in events (the simulated netlink buffer); beyond it events are dropped
        /// and the loop receives an overflow.
        public var eventBufferLimit = 2048
        /// A host driver claims an assigned member after every this many storm uevents.
        public var claimEvery = 500
        public var rounds = 2
        public var clientTimeoutSeconds = 120
        /// Every this many clients send all their requests before reading (pipelining).
        public var pipelinedEvery = 10
        /// Where the journal goes (default DIRECTORY/journal): on a disk, as on a host, while the tree can be on tmpfs
        /// (sysfs is in memory too).
        public var journalDirectory: String?
        public init() {}
    }

    public let directory: String
    public let configuration: Configuration

    static let pf = PCIAddress.literal("0000:02:00.0")
    static let assigned = [PCIAddress.literal("0000:03:01.0"), .literal("0000:03:02.0")]
    static let hostDrivers = ["e1000", "virtio-pci"]
    static let marker = PCIAddress.literal("0000:00:00.0")
    static let owner = "vm-load"
    static let vfsPerCycle = 4

    /// `directory` must not exist or be empty; it holds the tree, the journal and the assignment store.
    public init(directory: String, configuration: Configuration = Configuration()) {
        self.directory = directory
        self.configuration = configuration
    }

    public func run() async throws -> LoadReport {
        var report = LoadReport()
        let config = configuration
        report.openFileLimit = OpenFileLimit.raiseToHardLimit()
        let needed = UInt64(config.clients * 2 + 256)
        guard report.openFileLimit >= needed else {
            throw LoadRunError("\(config.clients) clients need about \(needed) open files (client and server ends); "
                               + "RLIMIT_NOFILE is \(report.openFileLimit) even raised to its hard limit (ulimit -Hn)")
        }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory + "/sys", withIntermediateDirectories: true)
        let root = SysfsRoot(directory + "/sys")
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        let journalDirectory = config.journalDirectory ?? directory + "/journal"
        let journal = try JournalWriter(directory: journalDirectory)
        let managed = Set(Self.assigned + [Self.pf])
        let verdicts: @Sendable (TopologyGraph) -> VerdictTable = { graph in
            VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.values
                .filter { managed.contains($0.address) || $0.physfn == Self.pf }
                .map { ($0.address, DeviceVerdict(managedBy: "load")) }))
        }
        let engine = try Engine(Engine.Configuration(
            root: root, writer: kernel, journal: journal, store: AssignmentStore(directory: directory + "/state"), verdicts: verdicts,
            sriovRules: [SRIOVRule(pf: Self.pf, numVFs: Self.vfsPerCycle)],
            staticAssignments: [Engine.StaticAssignment(devices: [Self.assigned[0]], owner: Self.owner, rule: "assign \(Self.owner)")]))
        // As the agent does: listen first, then start, so nothing between the scan and the first receive is missed.
        let events = kernel.events(bufferLimit: config.eventBufferLimit)
        _ = await engine.start(version: "load")

        let gate = SerialGate()
        let tracker = EventTracker()
        let handled = Shared<UInt64>(0)
        let loop = Task {
            for await event in events {
                tracker.received(event)
                _ = await gate.run { await engine.handle(event) }
                if case .device(let device) = event, let seqnum = device.seqnum {
                    handled.withLock { $0 = max($0, seqnum) }
                }
            }
        }
        let agent = AgentStatus.Agent(version: "load", pid: getpid(), startedAt: Int64(time(nil)), policy: "load.toml",
                                      monitorOnly: false, sysfsRoot: root.path, journal: journalDirectory)
        let service = ControlService(engine: engine, journal: journal, access: ControlAccess(readGroup: getgid()), agent: agent, gate: gate)
        let socket = "/tmp/vw-load-\(UInt32.random(in: 0...UInt32.max)).sock"
        // One uid plays every client here (a non-root one when the load run is not root): no per-uid share.
        let server = try ControlServer(path: socket, maximumConnectionsPerUser: 4096) { line, peer in
            await service.handle(line: line, peer: peer).encodedLine()
        }
        server.start()
        report.residentKBAfterStart = ResidentMemory.current().rss

        for _ in 0..<config.rounds {
            var (round, problems) = try await onThread { runRound(socket: socket, kernel: kernel) }
            report.problems += problems
            // Until the loop has handled everything emitted, the agent's own writes included.
            let drainStart = Date()
            if !(await drain(kernel: kernel, handled: handled)) {
                report.problems.append("the event loop did not catch up within 10 minutes")
            }
            round.drainSeconds = Date().timeIntervalSince(drainStart)
            // The simulated kernel's own record of writes and events (for tests) is not the agent's memory.
            _ = kernel.takeWrites()
            _ = kernel.takeEmittedEvents()
            round.residentKB = ResidentMemory.current().rss
            // What is left once the allocator returns its free pages (malloc_trim(3)): live memory, not retention.
            _ = mallocTrim(0)
            round.residentKBTrimmed = ResidentMemory.current().rss
            report.rounds.append(round)
        }
        server.stop()
        loop.cancel()
        _ = await loop.value

        let counts = tracker.snapshot
        report.deviceEventsHandled = counts.deviceEvents
        report.overflows = counts.overflows
        report.gaps = counts.gaps
        report.lostEvents = counts.lostEvents
        report.problems += counts.problems.prefix(20)
        if counts.overflows < counts.gaps {
            report.problems.append("\(counts.gaps) runs of lost events but only \(counts.overflows) overflows")
        }

        // The graph as the engine holds it must be sysfs as it is: nothing lost without a resync.
        let fresh = try TopologyGraph.scan(root: root)
        let held = await engine.graph
        for address in Set(fresh.devices.keys).union(held.devices.keys).sorted() where fresh.devices[address] != held.devices[address] {
            report.problems.append("the engine's graph differs from a fresh scan at \(address): "
                                   + "\(held.devices[address].map { "\($0.driver ?? "no driver")" } ?? "absent") vs \(fresh.devices[address].map { "\($0.driver ?? "no driver")" } ?? "absent")")
        }
        for address in Self.assigned {
            let driver = fresh.devices[address]?.driver ?? "none"
            report.assignedGroupDrivers[address.description] = driver
            if driver != "vfio-pci" { report.problems.append("assigned \(address) ended on \(driver), not vfio-pci") }
        }
        for vf in fresh.devices.values where vf.physfn == Self.pf {
            let driver = vf.driver ?? "none"
            report.vfDrivers[vf.address.description] = driver
            if driver != "vfio-pci" { report.problems.append("VF \(vf.address) ended on \(driver), not vfio-pci") }
        }
        if await engine.assignments.assignments.first(where: { $0.owner == Self.owner }) == nil {
            report.problems.append("the assignment to \(Self.owner) is gone")
        }

        journal.close()
        let records = try JournalReader(directory: journalDirectory).records()
        report.journalRecords = records.count
        report.resyncsJournaled = records.filter {
            if case .agentResynced = $0.event, $0.cause?.detail?.contains("overflowed") == true { return true }
            return false
        }.count
        if report.resyncsJournaled != counts.overflows {
            report.problems.append("\(counts.overflows) overflows received but \(report.resyncsJournaled) overflow resyncs journaled")
        }
        let verified = try JournalVerifier.verify(directory: journalDirectory)
        report.journalIntact = verified.isIntact
        if !verified.isIntact { report.problems.append("journal verify: \(verified.problems.prefix(3).map(\.description).joined(separator: "; "))") }
        report.peakResidentKB = ResidentMemory.current().peak
        return report
    }

    /// One round, on a plain thread (it blocks): every client connects, then all send while the storm runs.
    private func runRound(socket: String, kernel: SimulatedKernel) -> (LoadReport.Round, problems: [String]) {
        let config = configuration
        var round = LoadReport.Round()
        var problems: [String] = []
        round.clients = config.clients
        let kinds = LoadClient.Kind.allCases
        let mayChangeState = getuid() == 0
        let connected = DispatchGroup()
        let finished = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        let outcomes = Shared<[LoadClient.Outcome]>([])
        let connectStart = Date()
        for index in 0..<config.clients {
            let client = LoadClient(index: index, path: socket,
                                    kinds: (0..<config.requestsPerClient).map { kinds[(index + $0) % kinds.count] },
                                    device: Self.assigned[0].description, owner: Self.owner, mayChangeState: mayChangeState,
                                    pipelined: config.pipelinedEvery > 0 && index % config.pipelinedEvery == 0,
                                    timeoutSeconds: config.clientTimeoutSeconds)
            connected.enter()
            finished.enter()
            let thread = Thread {
                let connection = client.connect()
                connected.leave()
                go.wait()
                var outcome = LoadClient.Outcome()
                switch connection {
                case .success(let fd): outcome = client.run(on: fd)
                case .failure(let error): outcome.problems.append("client \(index): \(error)")
                }
                outcomes.withLock { $0.append(outcome) }
                finished.leave()
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        if connected.wait(timeout: .now() + .seconds(config.clientTimeoutSeconds)) == .timedOut {
            problems.append("not every client had connected after \(config.clientTimeoutSeconds) s")
        }
        round.connectSeconds = Date().timeIntervalSince(connectStart)
        let claims = zip(Self.assigned, Self.hostDrivers).map { (address: $0, driver: $1) }
        let storm = EventStorm(kernel: kernel, pf: Self.pf, vfsPerCycle: Self.vfsPerCycle, events: config.stormEvents,
                               claimEvery: config.claimEvery, claims: claims)
        let stormOutcome = Shared(EventStorm.Outcome())
        let stormDone = DispatchSemaphore(value: 0)
        let stormEnded = Shared<Date?>(nil)
        // The clients go once a quarter of the storm is out: the receive queue is under pressure and the rest of
        // the storm runs while they are served.
        let underWay = DispatchSemaphore(value: 0)
        let quarter = max(1, config.stormEvents / 4)
        Thread.detachNewThread {
            var signalled = false
            let outcome = storm.run { emitted in
                if !signalled && emitted >= quarter {
                    signalled = true
                    underWay.signal()
                }
            }
            if !signalled { underWay.signal() }
            stormEnded.withLock { $0 = Date() }
            stormOutcome.withLock { $0 = outcome }
            stormDone.signal()
        }
        underWay.wait()
        let started = Date()
        for _ in 0..<config.clients { go.signal() }
        finished.wait()
        let clientsEnded = Date()
        round.seconds = clientsEnded.timeIntervalSince(started)
        stormDone.wait()
        round.stormOutlastedClients = stormEnded.withLock { $0 }.map { $0 > clientsEnded } ?? false

        let all = outcomes.withLock { $0 }
        round.requests = all.reduce(0) { $0 + $1.sent }
        round.replies = all.reduce(0) { $0 + $1.replies }
        round.nonzeroExits = all.reduce(0) { $0 + $1.nonzeroExits }
        let timed = all.flatMap(\.latencies)
        let latencies = timed.map(\.seconds).sorted()
        for (kind, entries) in Dictionary(grouping: timed, by: \.kind) {
            let sorted = entries.map(\.seconds).sorted()
            round.latencyP99ByKind[kind] = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        }
        if !latencies.isEmpty {
            round.latencyP50 = latencies[latencies.count / 2]
            round.latencyP99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            round.latencyMax = latencies[latencies.count - 1]
        }
        let expected = config.clients * config.requestsPerClient
        if round.replies != expected { problems.append("\(expected) requests, \(round.replies) replies") }
        problems += all.flatMap(\.problems).prefix(20)
        let storming = stormOutcome.withLock { $0 }
        round.stormEvents = storming.events
        round.stormCycles = storming.cycles
        round.stormSeconds = storming.seconds
        round.claims = storming.claims
        problems += storming.problems
        return (round, problems)
    }

    /// Emits `change` markers on the host bridge until one is handled with nothing emitted between it and the
    /// marker before it: the loop has then handled everything, the agent's own writes included.
    private func drain(kernel: SimulatedKernel, handled: Shared<UInt64>) async -> Bool {
        let deadline = Date().addingTimeInterval(600)
        var previous: UInt64?
        while Date() < deadline {
            guard let marker = kernel.eventBurst(on: Self.marker, count: 1).first?.seqnum else { return false }
            let waitUntil = Date().addingTimeInterval(0.5)
            while handled.withLock({ $0 }) < marker && Date() < waitUntil {
                try? await Task.sleep(for: .milliseconds(2))
            }
            guard handled.withLock({ $0 }) >= marker else { continue }
            if let previous, marker == previous + 1 { return true }
            previous = marker
        }
        return false
    }
}

public struct LoadRunError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// This process's resident memory from `/proc/self/status`: `VmRSS` and its peak `VmHWM`, in kB.
public enum ResidentMemory {
    public static func current() -> (rss: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func value(_ key: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return (value("VmRSS:"), value("VmHWM:"))
    }
}

/// Runs blocking `body` on a thread of its own (never on Swift's cooperative pool, which the server's handler needs).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
    }
}

/// A value behind a lock that closures on several threads share.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// glibc's `malloc_trim(3)`, which the Glibc module does not export.
@_silgen_name("malloc_trim")
func mallocTrim(_ pad: Int) -> Int32
