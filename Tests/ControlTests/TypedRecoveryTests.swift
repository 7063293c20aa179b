import Testing
import Foundation
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// Recovery from the typed journal: a kill during the executor's rollback, a release that lost a member, an
/// outcome saved but never journaled.
@Suite(.serialized) struct TypedRecoveryTests {
    func waitFor(_ gate: WriteGate) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !gate.isHoldingAWriter && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(gate.isHoldingAWriter)
    }

    func recoveries(in records: [JournalRecord]) -> [Recovery] {
        records.compactMap { if case .recovery(let r) = $0.event { r } else { nil } }
    }

    /// The assign fails at the virtio-net's unbind; the executor's rollback hangs in vfio-pci's unbind of the e1000
    /// (already moved), and the agent is killed there.
    @Test func aKillDuringTheExecutorsRollbackIsRecoveredToWhereTheGroupStarted() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = WriteGate()
        defer { gate.release() }
        do {
            let journal = try JournalWriter(directory: host.journalDirectory)
            let writer = CrashableWriter(host.kernel)
            let engine = try host.makeEngine(journal: journal, writer: writer, stepTimeout: .seconds(60))
            _ = await engine.start(version: "first")
            host.kernel.inject(.fail(.ioError), on: "bus/pci/drivers/virtio-pci/unbind")
            host.kernel.inject(.hang(gate), on: "bus/pci/drivers/vfio-pci/unbind")
            Task.detached { _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test")) }
            try await waitFor(gate)
            writer.crash()
            journal.close()
        }
        let records = try JournalReader(directory: host.journalDirectory).records()
        let interrupted = InterruptedPlan.find(in: records)
        #expect(interrupted.map(\.kind) == [.assign])
        #expect(interrupted.first?.wasRollingBack == true)
        #expect(records.contains { if case .stepFinished(let s) = $0.event { !s.succeeded } else { false } })

        // The write the dead process left hanging in the kernel completes (e1000 leaves vfio-pci), then the next start.
        gate.release()
        try await Task.sleep(for: .milliseconds(50))
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.recoverInterruptedPlans(from: records)
        _ = await engine.start(version: "second")
        journal.close()
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
        #expect(await engine.assignments.assignments.isEmpty)
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.e1000]?.driver == "e1000", "the e1000 stays on \(graph.devices[TestHost.e1000]?.driver ?? "-") with no assignment")
        #expect(graph.devices[TestHost.e1000]?.driverOverride == nil)
        #expect(graph.devices[TestHost.virtio]?.driver == "virtio-pci")
        let outcome = try #require(recoveries(in: try JournalReader(directory: host.journalDirectory).records()).only)
        #expect(outcome.outcome == .rolledBack, "\(outcome)")
    }

    /// Killed between two steps of the rollback (right after the failed step's record, before the rollback's
    /// first): every started step finished, one failed. The journal's records stop there as a kill leaves them
    /// (``JournalFaults``: nothing after the failed step is durable, and the executor writes nothing unrecorded).
    @Test func aKillBetweenStepsOfTheRollbackIsRecovered() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        do {
            let faults = JournalFaults()
            var options = JournalWriter.Options()
            options.faults = faults
            let journal = try JournalWriter(directory: host.journalDirectory, options: options)
            let engine = try host.makeEngine(journal: journal)
            _ = await engine.start(version: "first")
            host.kernel.inject(.fail(.ioError), on: "bus/pci/drivers/virtio-pci/unbind")
            // The plan, four steps started and finished, the fifth (the virtio-net's unbind) started and failed.
            faults.fill(after: 1 + 4 * 2 + 2)
            _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
            journal.close()
        }
        let records = try JournalReader(directory: host.journalDirectory).records()
        let steps = records.compactMap { if case .stepFinished(let s) = $0.event { s } else { nil } }
        #expect(steps.count == 5 && steps.last?.succeeded == false, "\(steps.map(\.operation))")
        #expect(TopologyGraph.scanDriver(host, TestHost.e1000) == "vfio-pci")
        let interrupted = InterruptedPlan.find(in: records)
        #expect(interrupted.first?.wasRollingBack == true, "a plan with a failed step and no plan_finished was not found")

        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.recoverInterruptedPlans(from: records)
        _ = await engine.start(version: "second")
        journal.close()
        #expect(await engine.assignments.assignments.isEmpty)
        #expect(TopologyGraph.scanDriver(host, TestHost.e1000) == "e1000", "left on vfio-pci with no assignment")
        #expect(TopologyGraph.scanDriver(host, TestHost.virtio) == "virtio-pci")
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }

    /// A member disappears at the start of a release: the others still go back to their drivers, and the
    /// assignment is dropped (before, the group was rolled back into isolation and then dropped: stranded).
    @Test func aReleaseThatLosesAMemberGivesTheOthersBack() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        let assigned = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        #expect(assigned.actions.allSatisfy { $0.result.outcome == .completed })
        host.kernel.inject(.removeDeviceBefore(TestHost.virtio), on: "bus/pci/devices/0000:03:02.0/driver_override")
        let released = await engine.release(owner: "vm1", addresses: [], cause: .agent("test"))
        journal.close()
        let result = try #require(released.actions.first?.result)
        #expect(result.outcome == .completed, "\(result)")
        #expect(await engine.assignments.assignments.isEmpty)
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.virtio] == nil)
        #expect(graph.devices[TestHost.e1000]?.driver == "e1000", "on \(graph.devices[TestHost.e1000]?.driver ?? "-")")
        #expect(graph.devices[TestHost.e1000]?.driverOverride == nil)
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }

    /// A release failing with "device gone", then killed before its end was journaled: interrupted, and finished.
    @Test func aReleaseThatLostAMemberAndWasKilledIsInterrupted() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = WriteGate()
        defer { gate.release() }
        do {
            let journal = try JournalWriter(directory: host.journalDirectory)
            let writer = CrashableWriter(host.kernel)
            let engine = try host.makeEngine(journal: journal, writer: writer, stepTimeout: .seconds(60))
            _ = await engine.start(version: "first")
            _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
            // The e1000's steps come first: it disappears at its first, and the virtio-net's unbind hangs.
            host.kernel.inject(.removeDeviceBefore(TestHost.e1000), on: "bus/pci/devices/0000:03:01.0/driver_override")
            host.kernel.inject(.hang(gate), on: "bus/pci/drivers/vfio-pci/unbind")
            Task.detached { _ = await engine.release(owner: "vm1", addresses: [], cause: .agent("test")) }
            try await waitFor(gate)
            writer.crash()
            journal.close()
        }
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(records.contains { if case .stepFinished(let s) = $0.event { s.failureKind == "device-gone" } else { false } })
        #expect(InterruptedPlan.find(in: records).map(\.kind) == [.release])
        gate.release()
        try await Task.sleep(for: .milliseconds(50))
        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.recoverInterruptedPlans(from: records)
        _ = await engine.start(version: "second")
        journal.close()
        #expect(await engine.assignments.assignments.isEmpty)
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.virtio]?.driver == "virtio-pci", "on \(graph.devices[TestHost.virtio]?.driver ?? "-")")
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }

    /// Saved in the assignment table, killed before `assignment_made`: recovery writes the missing record.
    @Test func anAssignSavedButNeverJournaledGetsItsAssignmentMadeWritten() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        do {
            let journal = try JournalWriter(directory: host.journalDirectory)
            let engine = try host.makeEngine(journal: journal)
            _ = await engine.start(version: "first")
            _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
            journal.close()
        }
        // Cut the journal back to just before assignment_made, as a kill right after saving the table leaves it.
        let path = host.journalDirectory + "/journal.jsonl"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let cut = try #require(lines.firstIndex { $0.contains(#""kind":"assignment_made""#) })
        try (lines[..<cut].joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: host.journalDirectory + "/journal.head")
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(InterruptedPlan.find(in: records).map(\.kind) == [.assign])

        let journal = try JournalWriter(directory: host.journalDirectory)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.recoverInterruptedPlans(from: records)
        journal.close()
        let after = try JournalReader(directory: host.journalDirectory).records()
        let made = after.compactMap { if case .assignmentMade(let a) = $0.event { a } else { nil } }
        #expect(made.map(\.owner) == ["vm1"], "the missing assignment_made was not written")
        #expect(made.first?.originalDrivers?["0000:03:01.0"] == "e1000")
        #expect(recoveries(in: after).only?.outcome == .alreadyRecorded)
        #expect(InterruptedPlan.find(in: after).isEmpty)
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }

    /// Plans are typed: recovery finds an interrupted assign whatever its reason says.
    @Test func recoveryReadsTheKindNotTheWords() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let gate = try await CrashRecoveryTests().crashMidAssign(host)
        defer { gate.release() }
        var records = try JournalReader(directory: host.journalDirectory).records()
        for index in records.indices {
            if case .actionPlanned(var plan) = records[index].event {
                plan.reason = "reworded: isolate the bridge group"
                records[index].event = .actionPlanned(plan)
            }
        }
        #expect(InterruptedPlan.find(in: records).map(\.kind) == [.assign])
    }
}

extension TopologyGraph {
    /// The driver of `address` in a fresh scan of the host's tree.
    static func scanDriver(_ host: TestHost, _ address: PCIAddress) -> String? {
        (try? TopologyGraph.scan(root: host.root))?.devices[address]?.driver
    }
}
