import Testing
import Foundation
import Sysfs
import Topology
import SimulatedKernel
import Enforcement
import Journal
@testable import Agent

/// The engine end to end on the simulated kernel: events in, enforcement and journal out.
@Suite struct EngineTests {
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let virtio = PCIAddress.literal("0000:03:02.0")
    static let nvme = PCIAddress.literal("0000:02:00.0")

    struct Host {
        let directory: String
        let kernel: SimulatedKernel
        let engine: Engine
        let journal: JournalWriter
        var root: SysfsRoot { kernel.root }

        /// Feeds every event the kernel emitted since the last call to the engine, as the monitor would.
        func deliverEvents() async -> [Engine.Report] {
            var reports: [Engine.Report] = []
            for event in kernel.takeEmittedEvents() { reports.append(await engine.handle(.device(event))) }
            return reports
        }
    }

    /// The q35 example with the bridge group's NICs managed, an optional [[sriov]] rule, and a journal.
    func withHost<T>(sriov: [SRIOVRule] = [], alsoManaged: Set<PCIAddress> = [], _ body: (Host) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-agent-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory + "/sys", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = SysfsRoot(directory + "/sys")
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        _ = kernel.takeEmittedEvents()
        let journal = try JournalWriter(directory: directory + "/journal")
        let managed: Set<PCIAddress> = Set([Self.e1000, Self.virtio]).union(alsoManaged)
        let engine = try Engine(Engine.Configuration(
            root: root, writer: kernel, journal: journal, store: AssignmentStore(directory: directory + "/state"),
            verdicts: { graph in
                VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.keys.filter(managed.contains).map {
                    ($0, DeviceVerdict(managedBy: "manage.devices"))
                }))
            },
            sriovRules: sriov, stepTimeout: .seconds(2)))
        let result = try await body(Host(directory: directory, kernel: kernel, engine: engine, journal: journal))
        journal.close()
        return result
    }

    @Test func aHostDriverBoundByHandIsPutBackOnVFIOAndJournaled() async throws {
        try await withHost { host in
            _ = await host.engine.start(version: "test")
            let assigned = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            #expect(assigned.actions.map(\.result.outcome) == [.completed])
            #expect(assigned.states.last?.to.state == .isolated)
            _ = await host.deliverEvents()

            // Someone binds e1000 back by hand.
            try host.kernel.write("\n", to: "bus/pci/devices/0000:03:01.0/driver_override")
            try host.kernel.write("0000:03:01.0", to: "bus/pci/drivers/vfio-pci/unbind")
            try host.kernel.write("0000:03:01.0", to: "bus/pci/drivers/e1000/bind")
            let reports = await host.deliverEvents()
            let fixes = reports.flatMap(\.actions).filter { $0.plan.kind == .enforce }
            #expect(fixes.count == 1)
            #expect(fixes.first?.result.outcome == .completed)
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.e1000]?.driver == "vfio-pci")
            #expect(await host.engine.statuses().first { $0.group == 4 }?.state == .isolated)

            let records = try JournalReader(directory: host.directory + "/journal").records()
            let kinds = records.map(\.kind)
            #expect(kinds.contains(.violationDetected))
            #expect(kinds.contains(.assignmentMade))
            // Write-ahead: the plan is recorded before its first step.
            let planned = try #require(kinds.lastIndex(of: .actionPlanned))
            let firstStep = try #require(kinds[planned...].firstIndex(of: .stepStarted))
            #expect(planned < firstStep)
            #expect(try JournalVerifier.verify(directory: host.directory + "/journal").problems.isEmpty)
        }
    }

    @Test func vfsUnderAnSRIOVRuleNeverMeetAHostDriver() async throws {
        try await withHost(sriov: [SRIOVRule(pf: Self.nvme, numVFs: 3, managesPF: true)]) { host in
            let report = await host.engine.start(version: "test")
            #expect(report.actions.contains { $0.plan.kind == .sriov && $0.result.outcome == .completed })
            let events = host.kernel.takeEmittedEvents()
            let vfs: [PCIAddress] = [.literal("0000:02:00.1"), .literal("0000:02:00.2"), .literal("0000:02:00.3")]
            #expect(Set(events.filter { $0.action == .add }.map(\.address)) == Set(vfs))
            let binds = events.filter { $0.action == .bind }
            #expect(binds.allSatisfy { $0.driver == "vfio-pci" }, "no host driver bound any VF: \(binds.map { "\($0.address) \($0.driver ?? "")" })")
            let graph = try TopologyGraph.scan(root: host.root)
            #expect(vfs.allSatisfy { graph.devices[$0]?.driver == "vfio-pci" })
            #expect(graph.devices[Self.nvme]?.sriov?.driversAutoprobe == false)
        }
    }

    @Test func aRefusedAssignmentWritesNothing() async throws {
        try await withHost { host in
            _ = host.kernel.takeWrites()
            let report = await host.engine.assign([.literal("0000:00:1f.2")], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            #expect(report.actions.map(\.result.outcome) == [.refused])
            #expect(report.actions.first?.plan.refusals.contains { $0.reason.contains("outside the allowlist") } == true)
            #expect(host.kernel.takeWrites().isEmpty)
        }
    }

    @Test func anOverflowResyncsAndEnforcesWhatWasMissed() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            _ = host.kernel.takeEmittedEvents()
            try host.kernel.write("\n", to: "bus/pci/devices/0000:03:02.0/driver_override")
            try host.kernel.write("0000:03:02.0", to: "bus/pci/drivers/vfio-pci/unbind")
            try host.kernel.write("0000:03:02.0", to: "bus/pci/drivers/virtio-pci/bind")
            _ = host.kernel.takeEmittedEvents() // lost
            let report = await host.engine.handle(.overflow)
            #expect(report.actions.contains { $0.plan.kind == .enforce && $0.result.outcome == .completed })
            #expect(try TopologyGraph.scan(root: host.root).devices[Self.virtio]?.driver == "vfio-pci")
        }
    }

    @Test func releaseRestoresTheOriginalDriversAndForgetsTheAssignment() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            let report = await host.engine.release(owner: "vm1", addresses: [], cause: .control("release", uid: 0, pid: 1))
            #expect(report.actions.map(\.result.outcome) == [.completed])
            let graph = try TopologyGraph.scan(root: host.root)
            #expect(graph.devices[Self.e1000]?.driver == "e1000")
            #expect(graph.devices[Self.virtio]?.driver == "virtio-pci")
            #expect(await host.engine.assignments.assignments.isEmpty)
            #expect(try AssignmentStore(directory: host.directory + "/state").load().assignments.isEmpty)
        }
    }

    @Test func aDeviceHotPluggedIntoAnAssignedGroupIsIsolatedBeforeUse() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            _ = await host.deliverEvents()
            // A third NIC appears behind the same bridge, in group 4; e1000's probe claims it at once.
            let newcomer = PCIAddress.literal("0000:03:03.0")
            try host.kernel.hotplug(DeviceSpec(newcomer, vendor: 0x8086, device: 0x100e, classCode: 0x020000, group: 4,
                                               parent: .literal("0000:00:02.0")), probe: true)
            let reports = await host.deliverEvents()
            // Outside the allowlist: the agent may not touch it, and says the group is violated.
            let refused = reports.flatMap(\.actions).filter { $0.plan.kind == .enforce }
            #expect(refused.first?.plan.refusals.first?.reason.contains("outside the allowlist") == true)
            #expect(reports.flatMap(\.states).contains { $0.group == 4 && $0.to.state == .violated })
            #expect(try TopologyGraph.scan(root: host.root).devices[newcomer]?.driver == "e1000")
        }
    }

    @Test func aReleaseTheKernelRefusesWhileAGuestHoldsTheGroupLeavesItIsolated() async throws {
        try await withHost { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            _ = await host.deliverEvents()
            let handle = try host.kernel.openGroup(4)
            let report = await host.engine.release(owner: "vm1", addresses: [], cause: .control("release", uid: 0, pid: 1))
            handle.close()
            let result = try #require(report.actions.first?.result)
            #expect(result.outcome == .rolledBack)
            #expect(result.failure?.kind == .kernelEnforcing)
            let graph = try TopologyGraph.scan(root: host.root)
            #expect(graph.devices[Self.e1000]?.driver == "vfio-pci")
            #expect(graph.devices[Self.virtio]?.driver == "vfio-pci")
            #expect(await host.engine.assignments.assignments.count == 1, "still assigned: the guest holds it")
        }
    }

    @Test func aManagedDeviceHotPluggedIntoAnAssignedGroupGoesToVFIO() async throws {
        let newcomer = PCIAddress.literal("0000:03:03.0")
        try await withHost(alsoManaged: [newcomer]) { host in
            _ = await host.engine.assign([Self.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1))
            _ = await host.deliverEvents()
            try host.kernel.hotplug(DeviceSpec(newcomer, vendor: 0x8086, device: 0x100e, classCode: 0x020000, group: 4,
                                               parent: .literal("0000:00:02.0")), probe: true)
            let reports = await host.deliverEvents()
            #expect(reports.flatMap(\.actions).contains { $0.plan.kind == .enforce && $0.result.outcome == .completed })
            #expect(try TopologyGraph.scan(root: host.root).devices[newcomer]?.driver == "vfio-pci")
            #expect(await host.engine.statuses().first { $0.group == 4 }?.state == .isolated)
        }
    }
}
