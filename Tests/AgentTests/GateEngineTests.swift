import Testing
import Foundation
import Synchronization
import Sysfs
import Topology
import SimulatedKernel
import Enforcement
import Journal
@testable import Agent

/// Issue 12 on the engine and the simulated kernel: the gates on the assign, release, enforce and `[[sriov]]`
/// paths, host use read when a plan is made, `plan` requests that cannot starve enforcement, and flapping.
@Suite struct GateEngineTests {
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let virtio = PCIAddress.literal("0000:03:02.0")
    static let nvme = PCIAddress.literal("0000:02:00.0")
    static let control = Cause.control("test", uid: 0, pid: 1)

    /// What the tests change while the engine runs: devices in host use, the clock.
    final class World: Sendable {
        let inUse = Mutex<Set<PCIAddress>>([])
        let now = Mutex<Duration>(.seconds(1000))
        /// While set, every full analysis (the `verdicts` closure) waits: a stuck or slow host-use analysis.
        let holdAnalyses = Mutex(false)
        let analysesHeld = Mutex(0)
        let stopLoops = Mutex(false)
    }

    struct Host {
        let directory: String
        let kernel: SimulatedKernel
        let engine: Engine
        let world: World
        var root: SysfsRoot { kernel.root }

        func deliverEvents() async -> [Engine.Report] {
            var reports: [Engine.Report] = []
            for event in kernel.takeEmittedEvents() { reports.append(await engine.handle(.device(event))) }
            return reports
        }

        func records() throws -> [JournalRecord] { try JournalReader(directory: directory + "/journal").records() }

        /// Another tool binds `address` to `driver` by hand.
        func takeBack(_ address: PCIAddress, to driver: String) throws {
            try kernel.write("\n", to: "bus/pci/devices/\(address)/driver_override")
            let graph = try TopologyGraph.scan(root: root)
            if let current = graph.devices[address]?.driver { try kernel.write(address.description, to: "bus/pci/drivers/\(current)/unbind") }
            try kernel.write(address.description, to: "bus/pci/drivers/\(driver)/bind")
        }
    }

    func withHost<T>(managed: Set<PCIAddress> = [e1000, virtio], monitorOnly: Bool = false, sriov: [SRIOVRule] = [],
                     flapping: FlapDetector.Settings = FlapDetector.Settings(), _ body: (Host) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-gates-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory + "/sys", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = SysfsRoot(directory + "/sys")
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        _ = kernel.takeEmittedEvents()
        let journal = try JournalWriter(directory: directory + "/journal")
        let world = World()
        let engine = try Engine(Engine.Configuration(
            root: root, writer: kernel, journal: journal, store: AssignmentStore(directory: directory + "/state"),
            verdicts: { graph in
                if world.holdAnalyses.withLock({ $0 }) {
                    world.analysesHeld.withLock { $0 += 1 }
                    while world.holdAnalyses.withLock({ $0 }) { usleep(1000) }
                }
                let inUse = world.inUse.withLock { $0 }
                var verdicts: [PCIAddress: DeviceVerdict] = [:]
                for address in graph.devices.keys {
                    verdicts[address] = DeviceVerdict(managedBy: managed.contains(address) && !monitorOnly ? "manage.devices" : nil,
                                                      hostUse: inUse.contains(address) ? ["carries enp3s1, which is up"] : [])
                }
                return VerdictTable(verdicts, hasAllowlist: !monitorOnly)
            },
            sriovRules: sriov, stepTimeout: .seconds(2),
            // Host use of the devices a plan writes, as PolicyBinding.hostUse answers it (never held).
            hostUse: { _, addresses in
                let inUse = world.inUse.withLock { $0 }
                return Dictionary(uniqueKeysWithValues: addresses.map { ($0, inUse.contains($0) ? ["carries enp3s1, which is up"] : []) })
            },
            flapping: flapping,
            now: { world.now.withLock { $0 } }, scheduleWakeUp: { _, _ in }))
        let result = try await body(Host(directory: directory, kernel: kernel, engine: engine, world: world))
        journal.close()
        return result
    }

    // MARK: Item 1

    @Test func releasingAnotherOwnersGroupWritesNothingAndIsJournaled() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: Self.control)
            _ = await host.deliverEvents()
            _ = host.kernel.takeWrites()
            let report = await host.engine.release(owner: "vm2", addresses: [Self.e1000], cause: Self.control)
            #expect(report.actions.map(\.result.outcome) == [.refused])
            #expect(host.kernel.takeWrites().isEmpty)
            #expect(await host.engine.assignments.assignments.map(\.owner) == ["vm1"])
            let refused = try host.records().compactMap { record -> PlanRefused? in
                if case .planRefused(let refused) = record.event { return refused } else { return nil }
            }
            #expect(refused.map(\.reasons) == [["0000:03:01.0: is assigned to vm1, not vm2: only its owner's release returns it"]])
            #expect(refused.first?.owner == "vm2")
        }
    }

    // MARK: Item 21

    @Test func releasingADeviceThePolicyNowProtectsGivesItBackAndJournalsItAsSuch() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: Self.control)
            _ = await host.deliverEvents()
            // A reload protects the virtio-net (and no longer manages it) while vm1 holds the group.
            _ = await host.engine.reload(verdicts: { graph in
                VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.keys.map { address in
                    (address, address == Self.virtio ? DeviceVerdict(protectedBy: "protect.devices[0] (0000:03:02.0, line 9)")
                        : DeviceVerdict(managedBy: address == Self.e1000 ? "manage.devices" : nil))
                }))
            }, sriovRules: [], staticAssignments: [], cause: .agent("SIGHUP"))
            let report = await host.engine.release(owner: "vm1", addresses: [], cause: Self.control)
            #expect(report.actions.map(\.result.outcome) == [.completed])
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.virtio]?.driver == "virtio-pci")
            let reasons = try host.records().compactMap { record -> String? in
                if case .actionPlanned(let plan) = record.event { return plan.reason } else { return nil }
            }
            #expect(reasons.last == "release from vm1; 0000:03:02.0: is protected by the policy (protect.devices[0] (0000:03:02.0, line 9)): given back to virtio-pci, the driver it had before the assignment")
        }
    }

    // MARK: Item 2

    @Test func aMonitorOnlyPolicyWithAnSRIOVRuleWritesNothing() async throws {
        try await withHost(monitorOnly: true, sriov: [SRIOVRule(pf: Self.nvme, numVFs: 3, managesPF: true)]) { host in
            _ = host.kernel.takeWrites()
            _ = await host.engine.start(version: "test")
            #expect(host.kernel.takeWrites().isEmpty)
            let kinds = try host.records().map(\.kind)
            #expect(kinds.contains(.planRefused))
        }
    }

    @Test func aPFAssignedToAGuestGetsNoSRIOVWritesAtStart() async throws {
        try await withHost(managed: [Self.nvme], sriov: [SRIOVRule(pf: Self.nvme, numVFs: 3)]) { host in
            let assigned = await host.engine.assign([Self.nvme], owner: "vm1", cause: Self.control)
            #expect(assigned.actions.map(\.result.outcome) == [.completed])
            _ = await host.deliverEvents()
            _ = host.kernel.takeWrites()
            _ = await host.engine.start(version: "test")
            let writes = host.kernel.takeWrites().map(\.path)
            #expect(!writes.contains { $0.contains("sriov") }, "\(writes)")
        }
    }

    // MARK: Item 3

    @Test func aMemberTheHostStartedUsingSinceTheLastAnalysisIsNotUnbound() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: Self.control)
            _ = await host.deliverEvents()
            #expect(await host.engine.statuses().first { $0.group == 4 }?.state == .isolated)
            // An admin rebinds the e1000 to its host driver and the host brings its interface up: no device came or
            // went, so the cached analysis still calls it free.
            try host.takeBack(Self.e1000, to: "e1000")
            host.world.inUse.withLock { $0 = [Self.e1000] }
            let reports = await host.deliverEvents()
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "e1000")
            let refusals = reports.flatMap(\.actions).filter { $0.plan.kind == .enforce }.flatMap(\.plan.refusals).map(\.reason)
            #expect(refusals.contains { $0.contains("is in use by the host (carries enp3s1, which is up)") })
        }
    }

    // MARK: Item 19

    @Test func enforcementGoesOnWhileALoopOfPlanRequestsWaitsForAnAnalysis() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: Self.control)
            _ = await host.deliverEvents()
            // Every analysis a plan request starts is held (a slow host: thousands of block devices, a hung mount).
            host.world.holdAnalyses.withLock { $0 = true }
            let world = host.world
            let engine = host.engine
            let loops = (0..<32).map { _ in
                Task.detached {
                    while !world.stopLoops.withLock({ $0 }) { _ = await engine.planAssign([Self.virtio], owner: "probe") }
                }
            }
            while world.analysesHeld.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            // Another tool takes the virtio-net back: enforcement must not wait for the plan requests' analysis.
            try host.takeBack(Self.virtio, to: "virtio-pci")
            let enforced = Task { _ = await host.deliverEvents() }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            var repaired = false
            while clock.now < deadline {
                if try TopologyGraph.scan(root: host.root).devices[Self.virtio]?.driver == "vfio-pci" {
                    repaired = true
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            let analysesWhileHeld = world.analysesHeld.withLock { $0 }
            world.holdAnalyses.withLock { $0 = false }
            world.stopLoops.withLock { $0 = true }
            await enforced.value
            for loop in loops { await loop.value }
            #expect(repaired, "the repair waited for the plan requests' analysis")
            // 32 clients in a loop, one analysis at a time between them.
            #expect(analysesWhileHeld == 1)
        }
    }

    // MARK: Item 22

    @Test func aFightWithAnotherToolIsJournaledOnceAsFlappingBacksOffAndKeepsRepairing() async throws {
        let settings = FlapDetector.Settings(threshold: 3, window: .seconds(60), initialBackoff: .seconds(2), maximumBackoff: .seconds(8))
        try await withHost(flapping: settings) { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: Self.control)
            _ = await host.deliverEvents()
            for _ in 0..<3 {
                try host.takeBack(Self.e1000, to: "e1000")
                _ = await host.deliverEvents()
                #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "vfio-pci")
                host.world.now.withLock { $0 += .seconds(1) }
            }
            #expect(try host.records().map(\.kind).filter { $0 == .flapping }.count == 1)
            let flapping = await host.engine.flappingDevices()
            #expect(flapping.map(\.address) == [Self.e1000])
            #expect(flapping.first?.backoff == .seconds(2))

            // Within the back-off the repair waits...
            host.world.now.withLock { $0 += .milliseconds(500) }
            try host.takeBack(Self.e1000, to: "e1000")
            _ = await host.deliverEvents()
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "e1000")
            // ...and is made once it is over, still journaled once.
            host.world.now.withLock { $0 += .seconds(2) }
            _ = await host.engine.repairDeferred()
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "vfio-pci")
            #expect(try host.records().map(\.kind).filter { $0 == .flapping }.count == 1)
            // The back-off doubles, within its bound.
            #expect(await host.engine.flappingDevices().first?.backoff == .seconds(4))
            for _ in 0..<4 {
                host.world.now.withLock { $0 += .seconds(9) }
                try host.takeBack(Self.e1000, to: "e1000")
                _ = await host.deliverEvents()
                #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "vfio-pci")
            }
            #expect(await host.engine.flappingDevices().first?.backoff == .seconds(8))
            // A quiet window ends the episode.
            host.world.now.withLock { $0 += .seconds(120) }
            #expect(await host.engine.flappingDevices().isEmpty)
        }
    }
}
