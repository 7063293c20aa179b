import Testing
import Foundation
import Synchronization
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// Forwards to the simulated kernel until the "crash": after it, the dead engine's writes change nothing.
final class CrashableWriter: SysfsAttributeWriter {
    let kernel: SimulatedKernel
    private let dead = Mutex(false)

    init(_ kernel: SimulatedKernel) { self.kernel = kernel }

    func crash() { dead.withLock { $0 = true } }

    func write(_ value: String, to relative: String) throws(SysfsError) {
        if dead.withLock({ $0 }) { throw SysfsError(operation: "write", path: relative, errno: .ioError) }
        try kernel.write(value, to: relative)
    }
}

@Suite(.serialized) struct CrashRecoveryTests {
    /// Starts an assign on engine A, holds it in e1000's unbind (a hung driver `remove()`), and "kills" A there:
    /// its writer dies and its journal is closed. Returns the gate to release at the end.
    func crashMidAssign(_ host: TestHost) async throws -> WriteGate {
        let gate = WriteGate()
        host.kernel.inject(.hang(gate), on: "bus/pci/drivers/e1000/unbind")
        let journal = try JournalWriter(directory: host.journalDirectory)
        let writer = CrashableWriter(host.kernel)
        let engine = try host.makeEngine(journal: journal, writer: writer, stepTimeout: .seconds(60))
        _ = await engine.start(version: "first")
        Task.detached { _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .control("assign", uid: 0, pid: 1)) }
        let deadline = ContinuousClock.now + .seconds(10)
        while !gate.isHoldingAWriter && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(gate.isHoldingAWriter)
        writer.crash()
        journal.close()
        return gate
    }

    func groupMembers(of address: PCIAddress, _ root: SysfsRoot) throws -> [PCIDevice] {
        let graph = try TopologyGraph.scan(root: root)
        let group = try #require(graph.devices[address]?.iommuGroup)
        return graph.members(ofGroup: group)
    }

    @Test func anInterruptedAssignIsFinishedAtTheNextStart() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = try await crashMidAssign(host)
        defer { gate.release() }
        let before = try TopologyGraph.scan(root: host.root).devices[TestHost.e1000]
        #expect(before?.driver == "e1000")
        #expect(before?.driverOverride == "vfio-pci")

        let records = try JournalReader(directory: host.journalDirectory).records()
        let interrupted = InterruptedPlan.find(in: records)
        #expect(interrupted.count == 1)
        #expect(interrupted.first?.kind == .assign)
        #expect(interrupted.first?.plan.owner == "vm1")

        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        let recovery = await engine.recoverInterruptedPlans(from: records)
        #expect(recovery.notes.contains { $0.contains("finished") }, "\(recovery.notes)")
        _ = await engine.start(version: "second")
        journal.close()

        // The invariants: the journal verifies, every member of the assigned group is off host drivers.
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
        for member in try groupMembers(of: TestHost.e1000, host.root) {
            let driver = member.driver ?? "none"
            #expect(GroupViability.isIsolatingDriver(driver) || (member.isBridge && driver == "pcieport") || member.driver == nil,
                    "\(member.address) is on \(driver)")
        }
        #expect(await engine.assignments.assignments.map(\.owner) == ["vm1"])
        #expect(await engine.statuses().first { $0.owner == "vm1" }?.state == .isolated)
        // What release will restore is what the members had before the first run touched them, not the half-done
        // state it left (the e1000 was found with driver_override=vfio-pci already set).
        let remembered = try #require(await engine.assignments.assignments.first?.members.first { $0.identity.address == TestHost.e1000 })
        #expect(remembered.originalDriver == "e1000")
        #expect(remembered.originalOverride == nil)
        // A later start finds nothing left to recover.
        let after = try JournalReader(directory: host.journalDirectory).records()
        #expect(InterruptedPlan.find(in: after).isEmpty)
        // The outcome has a record of its own: the plan, `finished`, and the device its step had started on.
        let outcome = try #require(recoveries(in: after).only)
        #expect(outcome.outcome == .finished)
        #expect(outcome.planID == interrupted.first?.plan.planID)
        #expect(outcome.owner == "vm1")
        #expect(outcome.devices.map(\.device) == [TestHost.e1000])
        #expect(outcome.devices.first?.driverBefore == "e1000")
        #expect(after.filter { $0.kind == .agentResynced }.allSatisfy { !StoryRenderer.sentence(for: $0).contains("crash recovery") })
    }

    @Test func anInterruptedAssignThatMayNoLongerBeFinishedIsRolledBack() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = try await crashMidAssign(host)
        defer { gate.release() }
        let records = try JournalReader(directory: host.journalDirectory).records()

        // The new policy no longer manages the NICs: finishing is refused, so the plan's writes are undone.
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal, verdicts: { _ in VerdictTable([:]) })
        let recovery = await engine.recoverInterruptedPlans(from: records)
        #expect(recovery.notes.contains { $0.contains("rolled back") }, "\(recovery.notes)")
        _ = await engine.start(version: "second")
        journal.close()

        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
        let e1000 = try TopologyGraph.scan(root: host.root).devices[TestHost.e1000]
        #expect(e1000?.driver == "e1000")
        #expect(e1000?.driverOverride == nil)
        #expect(await engine.assignments.assignments.isEmpty)
        let after = try JournalReader(directory: host.journalDirectory).records()
        let outcome = try #require(recoveries(in: after).only)
        #expect(outcome.outcome == .rolledBack)
        #expect(outcome.devices.map(\.device) == [TestHost.e1000])
        // `journal --kind recovery` finds it, and the story says what happened to which device.
        let found = after.filter(JournalFilter(kinds: [.recovery]).matches)
        #expect(found.count == 1)
        let sentence = StoryRenderer.sentence(for: try #require(found.first))
        #expect(sentence.contains("rolled back") && sentence.contains("0000:03:01.0 (was on e1000)"), "\(sentence)")
        #expect(after.filter(JournalFilter(devices: [TestHost.e1000]).matches).contains { $0.kind == .recovery })
    }

    @Test func anInterruptedReleaseIsFinishedAtTheNextStart() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = WriteGate()
        do {
            let journal = try JournalWriter(directory: host.journalDirectory)
            let writer = CrashableWriter(host.kernel)
            let engine = try host.makeEngine(journal: journal, writer: writer, stepTimeout: .seconds(60))
            _ = await engine.start(version: "first")
            let assigned = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
            #expect(assigned.actions.allSatisfy { $0.result.outcome == .completed })
            host.kernel.inject(.hang(gate), on: "bus/pci/drivers/vfio-pci/unbind")
            Task.detached { _ = await engine.release(owner: "vm1", addresses: [], cause: .agent("test")) }
            let deadline = ContinuousClock.now + .seconds(10)
            while !gate.isHoldingAWriter && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(gate.isHoldingAWriter)
            writer.crash()
            journal.close()
        }
        defer { gate.release() }
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(InterruptedPlan.find(in: records).map(\.kind) == [.release])

        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        let recovery = await engine.recoverInterruptedPlans(from: records)
        #expect(recovery.notes.contains { $0.contains("finished") }, "\(recovery.notes)")
        _ = await engine.start(version: "second")
        journal.close()
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
        #expect(await engine.assignments.assignments.isEmpty)
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.e1000]?.driver == "e1000")
        #expect(graph.devices[TestHost.virtio]?.driver == "virtio-pci")
        let outcome = try #require(recoveries(in: try JournalReader(directory: host.journalDirectory).records()).only)
        #expect(outcome.outcome == .finished)
        #expect(outcome.reason.hasPrefix("release from "))
    }

    /// The `recovery` records among `records`.
    func recoveries(in records: [JournalRecord]) -> [Recovery] {
        records.compactMap { record in
            if case .recovery(let recovery) = record.event { return recovery }
            return nil
        }
    }

    @Test func anAssignWhoseWritesAllSucceededButWasNeverRecordedIsInterrupted() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        journal.close()
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(InterruptedPlan.find(in: records).isEmpty)
        // The process died after the last write, before the assignment was saved and journaled.
        let cut = try #require(records.lastIndex { $0.kind == .assignmentMade })
        let interrupted = InterruptedPlan.find(in: Array(records[..<cut]))
        #expect(interrupted.map(\.kind) == [.assign])
        #expect(interrupted.first?.recorded == false)
    }

    @Test func completedAndRolledBackPlansAreNotInterrupted() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        // A failing write: the executor rolls back, and the journal tells the whole story.
        host.kernel.inject(.fail(.resourceBusy), on: "bus/pci/drivers/vfio-pci/unbind")
        _ = await engine.release(owner: "vm1", addresses: [], cause: .agent("test"))
        journal.close()
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(records.contains { $0.kind == .actionPlanned })
        #expect(InterruptedPlan.find(in: records).isEmpty)
    }
}

extension Array {
    /// The one element, `nil` when there are none or several.
    var only: Element? { count == 1 ? first : nil }
}
