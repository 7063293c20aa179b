import Testing
import Foundation
import SystemPackage
import Sysfs
import Topology
import SimulatedKernel
@testable import Enforcement

/// The executor against the simulated kernel, with faults: a group ends where it started or fully isolated.
@Suite struct ExecutorTests {
    static let e1000 = PlannerTests.e1000
    static let virtio = PlannerTests.virtio

    /// The q35 example with the bridge group's two NICs in the allowlist, and the kernel that owns it.
    func host(_ root: SysfsRoot) throws -> (SimulatedKernel, PlannerContext) {
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
        return (kernel, try context(root, managed: [Self.e1000, Self.virtio]))
    }

    func context(_ root: SysfsRoot, managed: [PCIAddress], assignments: [Assignment] = []) throws -> PlannerContext {
        let graph = try TopologyGraph.scan(root: root)
        var verdicts: [PCIAddress: DeviceVerdict] = [:]
        for address in managed { verdicts[address] = DeviceVerdict(managedBy: "manage.devices") }
        let drivers = Set(try root.list(PCIPaths.drivers))
        return PlannerContext(graph: graph, verdicts: VerdictTable(verdicts), assignments: AssignmentTable(assignments), loadedDrivers: drivers)
    }

    func drivers(_ root: SysfsRoot) throws -> [String: String] {
        let graph = try TopologyGraph.scan(root: root)
        return Dictionary(uniqueKeysWithValues: graph.devices.values.map { ($0.address.description, $0.driver ?? "-") })
    }

    @Test func assigningTheBridgeGroupPutsBothNICsOnVFIOAndTheGroupNodeAppears() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let result = await Executor(root: root, writer: kernel).run(plan)
            #expect(result.outcome == .completed)
            #expect(result.steps.count == 6 && result.steps.allSatisfy { $0.failure == nil })
            let after = try drivers(root)
            #expect(after["0000:03:01.0"] == "vfio-pci" && after["0000:03:02.0"] == "vfio-pci")
            #expect(try TopologyGraph.scan(root: root).viability(ofGroup: 4).viable)
            #expect(SysfsRoot(kernel.devDirectory).exists("vfio/4"))
            // No host driver ever bound during the plan: only unbinds of the host drivers, binds of vfio-pci.
            let binds = kernel.takeEmittedEvents().filter { $0.action == .bind }
            #expect(binds.map(\.driver) == ["vfio-pci", "vfio-pci"])
        }
    }

    @Test(arguments: [Errno.ioError, .resourceBusy, .operationNotSupportedByDevice])
    func aFailedWriteRollsTheWholeGroupBack(errno: Errno) async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let before = try TopologyGraph.scan(root: root)
            kernel.inject(.fail(errno), on: "bus/pci/drivers/virtio-pci/unbind")
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let result = await Executor(root: root, writer: kernel).run(plan)
            #expect(result.outcome == .rolledBack)
            #expect(result.failure?.kind == .writeFailed)
            #expect(result.failure?.errno == errno.rawValue)
            #expect(try TopologyGraph.scan(root: root) == before, "the group is where it started")
        }
    }

    @Test func aHungUnbindTimesOutAndTheRestIsPutBack() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let gate = WriteGate()
            kernel.inject(.hang(gate), on: "bus/pci/drivers/virtio-pci/unbind")
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            var executor = Executor(root: root, writer: kernel)
            executor.stepTimeout = .milliseconds(200)
            let result = await executor.run(plan)
            #expect(result.failure?.kind == .timedOut)
            #expect(result.outcome == .rolledBack)
            let after = try TopologyGraph.scan(root: root)
            #expect(after.devices[Self.e1000]?.driver == "e1000")
            #expect(after.devices[Self.e1000]?.driverOverride == nil)
            gate.release()
        }
    }

    @Test func aProbeThatBindsNothingIsAFailureNotASuccess() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            // The planner believes vfio-pci is loaded; it is unloaded behind its back, so drivers_probe
            // "succeeds" and binds nothing.
            _ = try kernel.unloadModule("vfio-pci")
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let result = await Executor(root: root, writer: kernel).run(plan)
            #expect(result.failure?.kind == .notVerified)
            #expect(result.failure?.message.contains("bound to no driver, expected vfio-pci") == true)
            #expect(result.outcome == .rolledBack)
            #expect(try drivers(root)["0000:03:01.0"] == "e1000")
        }
    }

    @Test func aDeviceRemovedMidPlanLeavesTheRestWhereItStarted() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            kernel.inject(.removeDeviceBefore(Self.virtio), on: "bus/pci/devices/0000:03:02.0/driver_override")
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let result = await Executor(root: root, writer: kernel).run(plan)
            #expect(result.failure?.kind == .deviceGone)
            #expect(result.outcome == .rolledBack)
            let after = try TopologyGraph.scan(root: root)
            #expect(after.devices[Self.virtio] == nil)
            #expect(after.devices[Self.e1000]?.driver == "e1000")
        }
    }

    @Test func releaseReturnsEveryMemberToItsOriginalDriver() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let (plan, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            #expect(await Executor(root: root, writer: kernel).run(plan).outcome == .completed)
            let held = try self.context(root, managed: [Self.e1000, Self.virtio], assignments: [try #require(assignment)])
            let (release, remaining) = try #require(Planner.release(owner: "vm1", addresses: [], in: held).first)
            #expect(remaining == nil)
            #expect(await Executor(root: root, writer: kernel).run(release).outcome == .completed)
            let after = try TopologyGraph.scan(root: root)
            #expect(after.devices[Self.e1000]?.driver == "e1000" && after.devices[Self.e1000]?.driverOverride == nil)
            #expect(after.devices[Self.virtio]?.driver == "virtio-pci" && after.devices[Self.virtio]?.driverOverride == nil)
        }
    }

    @Test func aHostDriverThatClaimsAnAssignedMemberIsPutBackOnVFIO() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let (plan, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            #expect(await Executor(root: root, writer: kernel).run(plan).outcome == .completed)
            // Someone binds e1000 back by hand: clear the override, unbind, bind.
            try kernel.write("\n", to: "bus/pci/devices/0000:03:01.0/driver_override")
            try kernel.write("0000:03:01.0", to: "bus/pci/drivers/vfio-pci/unbind")
            try kernel.write("0000:03:01.0", to: "bus/pci/drivers/e1000/bind")
            let held = try self.context(root, managed: [Self.e1000, Self.virtio], assignments: [try #require(assignment)])
            let fix = try #require(Planner.enforce(Self.e1000, in: held))
            #expect(fix.steps.map(\.description) == [
                "0000:03:01.0: set driver_override to vfio-pci", "0000:03:01.0: unbind from e1000", "0000:03:01.0: probe drivers, expect vfio-pci"])
            let result = await Executor(root: root, writer: kernel).run(fix)
            #expect(result.outcome == .completed)
            #expect(try drivers(root)["0000:03:01.0"] == "vfio-pci")
        }
    }

    @Test func anObserverThatCannotRecordIntentStopsThePlanBeforeAnyWrite() async throws {
        struct FailingJournal: ExecutionObserver {
            struct Full: Error {}
            func planWillRun(_ plan: Plan) async throws { throw Full() }
            func stepStarted(_ step: PlanStep, driverBefore: String?) async {}
            func stepFinished(_ record: StepRecord) async {}
            func planFinished(_ plan: Plan, result: ExecutionResult) async {}
        }
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            _ = kernel.takeWrites()
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let result = await Executor(root: root, writer: kernel).run(plan, observer: FailingJournal())
            #expect(result.outcome == .refused)
            #expect(kernel.takeWrites().isEmpty)
        }
    }

    /// A journal that takes the plan and `recordable` step records, then fails (a full disk).
    final class FillingJournal: ExecutionObserver, @unchecked Sendable {
        struct Full: Error {}
        let lock = NSLock()
        var remaining: Int
        var finished: ExecutionResult?
        init(recordable: Int) { remaining = recordable }
        func take() throws {
            try lock.withLock {
                if remaining <= 0 { throw Full() }
                remaining -= 1
            }
        }
        func planWillRun(_ plan: Plan) async throws {}
        func stepStarted(_ step: PlanStep, driverBefore: String?) async throws { try take() }
        func stepFinished(_ record: StepRecord) async throws { try take() }
        func planFinished(_ plan: Plan, result: ExecutionResult) async { lock.withLock { finished = result } }
    }

    @Test(arguments: [0, 1, 2, 3])
    func noWriteIsMadeAfterTheJournalFailsAndNothingIsRolledBackUnrecorded(_ recordable: Int) async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            _ = kernel.takeWrites()
            let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            let journal = FillingJournal(recordable: recordable)
            let result = await Executor(root: root, writer: kernel).run(plan, observer: journal)
            #expect(result.outcome == .journalFailed)
            #expect(result.failure?.kind == .journalFailed)
            #expect(result.rollback.isEmpty)
            // A step's write follows its recorded start: `recordable` records cover (recordable + 1) / 2 writes.
            #expect(kernel.takeWrites().count == (recordable + 1) / 2, "\(recordable) records")
            #expect(journal.finished?.outcome == .journalFailed)
        }
    }

    /// Writes through the simulated kernel, but lets a host driver bind the device just before the probe lands,
    /// as a person binding it by hand races the agent.
    struct RacingWriter: SysfsAttributeWriter {
        let kernel: SimulatedKernel
        let address: PCIAddress
        let driver: String
        func write(_ value: String, to relative: String) throws(SysfsError) {
            if relative == PCIPaths.driversProbe {
                _ = try? kernel.bind(address, driver: driver)
            }
            try kernel.write(value, to: relative)
        }
    }

    @Test func aProbeThatAHostDriverWinsFailsAtOnceAndIsNotRolledBack() async throws {
        try await withTemporaryHost { root in
            let (kernel, context) = try host(root)
            let (assign, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
            #expect(await Executor(root: root, writer: kernel).run(assign).outcome == .completed)
            try kernel.write("\n", to: "bus/pci/devices/0000:03:01.0/driver_override")
            try kernel.write("0000:03:01.0", to: "bus/pci/drivers/vfio-pci/unbind")
            let held = try self.context(root, managed: [Self.e1000, Self.virtio], assignments: [try #require(assignment)])
            let plan = try #require(Planner.enforce(Self.e1000, in: held))
            let result = await Executor(root: root, writer: RacingWriter(kernel: kernel, address: Self.e1000, driver: "e1000")).run(plan)
            // claimed-meanwhile comes from the first re-read, before any wait: waiting out the verify timeout would
            // end in not-verified instead. (No wall-clock check: tests run in parallel on a loaded machine.)
            #expect(result.failure?.kind == .claimedMeanwhile)
            #expect(result.rollback.isEmpty, "enforcement never hands a device back to the host driver")
            // The next plan, from sysfs as it is, unbinds the host driver and isolates it.
            let again = try self.context(root, managed: [Self.e1000, Self.virtio], assignments: [try #require(assignment)])
            let fix = try #require(Planner.enforce(Self.e1000, in: again))
            #expect(await Executor(root: root, writer: kernel).run(fix).outcome == .completed)
            #expect(try drivers(root)["0000:03:01.0"] == "vfio-pci")
        }
    }
}
