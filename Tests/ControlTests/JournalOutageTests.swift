import Testing
import Foundation
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// The agent on a full journal disk (``JournalFaults``): nothing is assigned or released without its durable record,
/// stolen members are still put back, the outage shows in `status`, and everything is recovered when space returns.
@Suite(.serialized) struct JournalOutageTests {
    func faultyJournal(_ host: TestHost) throws -> (JournalWriter, JournalFaults) {
        let faults = JournalFaults()
        var options = JournalWriter.Options()
        options.faults = faults
        return (try JournalWriter(directory: host.journalDirectory, options: options), faults)
    }

    func stepsStarted(_ records: [JournalRecord]) -> [StepStarted] {
        records.compactMap { if case .stepStarted(let s) = $0.event { s } else { nil } }
    }

    @Test func anAssignWhoseRecordsRunOutOfSpaceWritesNothingUnrecordedAndIsRecoveredWhenSpaceReturns() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let (journal, faults) = try faultyJournal(host)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        _ = host.kernel.takeWrites()
        let before = try JournalReader(directory: host.journalDirectory).records().count
        // The plan, the first step's start and its end are durable; the second step's start is not.
        faults.fill(after: 3)
        let report = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        let result = try #require(report.actions.first?.result)
        #expect(result.outcome == .journalFailed, "\(result)")
        #expect(!report.unrecorded.isEmpty)
        #expect(await engine.journalProblem?.contains("the journal refuses records") == true)
        let writes = host.kernel.takeWrites()
        let durable = try JournalReader(directory: host.journalDirectory).records()
        #expect(durable.count == before + 3)
        #expect(writes.count == stepsStarted(durable).count, "\(writes.count) writes, \(stepsStarted(durable).count) durable step_started")
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).problems.map(\.kind) == [.unfinished])
        #expect(await engine.assignments.assignments.isEmpty)

        // Still full: a new assign writes nothing at all.
        let refused = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        #expect(refused.actions.allSatisfy { $0.result.outcome != .completed })
        #expect(host.kernel.takeWrites().isEmpty)

        // Space returns: the next resync takes the journal back, says what was lost, and finishes the assign.
        faults.heal()
        let healed = await engine.resync()
        #expect(healed.notes.contains { $0.contains("takes records again") }, "\(healed.notes)")
        #expect(await engine.journalProblem == nil)
        journal.close()
        let after = try JournalReader(directory: host.journalDirectory).records()
        #expect(after.contains { if case .recordRefused(let r) = $0.event { (r.lostRecords ?? 0) > 0 } else { false } })
        #expect(after.contains { $0.kind == .recovery })
        let verify = try JournalVerifier.verify(directory: host.journalDirectory)
        #expect(verify.isIntact, "\(verify.problems)")
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.e1000]?.driver == "vfio-pci" && graph.devices[TestHost.virtio]?.driver == "vfio-pci")
        #expect(await engine.assignments.assignments.map(\.owner) == ["vm1"])
    }

    @Test func aStolenMemberIsPutBackWhileTheJournalIsFull() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let (journal, faults) = try faultyJournal(host)
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        let assigned = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        #expect(assigned.actions.allSatisfy { $0.result.outcome == .completed })
        faults.fill()
        for event in try host.kernel.bind(TestHost.e1000, driver: "e1000") {
            _ = await engine.handle(.device(event))
        }
        for event in host.kernel.takeEmittedEvents() { _ = await engine.handle(.device(event)) }
        let graph = try TopologyGraph.scan(root: host.root)
        #expect(graph.devices[TestHost.e1000]?.driver == "vfio-pci", "a stolen member stayed on \(graph.devices[TestHost.e1000]?.driver ?? "-")")
        let status = AgentStatus(agent: TestHost.agentInfo, statuses: await engine.statuses(), assignments: await engine.assignments)
        var withProblem = status
        withProblem.agent.journalProblem = await engine.journalProblem
        #expect(withProblem.summaryLine.contains("the journal refuses records"), "\(withProblem.summaryLine)")

        faults.heal()
        _ = await engine.resync()
        journal.close()
        let records = try JournalReader(directory: host.journalDirectory).records()
        let lost = records.compactMap { if case .recordRefused(let r) = $0.event { r.lostRecords } else { nil } }
        #expect(lost.count == 1 && lost[0] > 0, "\(lost)")
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }
}
