import Foundation
import Journal
import Sysfs
import Testing

/// The journal written by the release before typed plans (schema 1), kept in `Fixtures/schema1`: an assign and a
/// release on the q35 example host (`example-tree`, `--simulated-kernel`), written by that release's own code.
enum SchemaOneFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/schema1").path

    /// A copy in a temporary directory (reading takes no lock, but verify and the writer must never touch the fixture).
    static func copy(to destination: String) throws {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try FileManager.default.copyItem(atPath: directory + "/" + name, toPath: destination + "/" + name)
        }
    }
}

@Suite struct TypedJournalTests {
    @Test func aJournalWrittenBeforeTypedPlansStillReadsAndVerifies() async throws {
        try await withTemporaryDirectory { dir in
            try SchemaOneFixture.copy(to: dir + "/journal")
            #expect(try JournalVerifier.verify(directory: dir + "/journal").isIntact)
            let records = try JournalReader(directory: dir + "/journal").records()
            let plans = records.compactMap { record -> ActionPlan? in
                if case .actionPlanned(let plan) = record.event { return plan }
                return nil
            }
            #expect(plans.count == 2)
            #expect(plans.allSatisfy { $0.schema == nil && $0.kind == nil && !$0.endsWithPlanFinished })
            // The kinds and steps are read from the schema 1 words, in one place.
            #expect(plans.map(\.planKind) == [.assign, .release])
            let overrides = plans[0].steps.compactMap { step -> String? in
                guard let (action, argument) = step.typedAction, action == .driverOverride else { return nil }
                return argument
            }
            #expect(overrides == ["vfio-pci", "vfio-pci"])
            #expect(plans[0].steps.allSatisfy { $0.typedAction != nil }, "\(plans[0].steps.map(\.operation))")
            #expect(!records.contains { $0.kind == .planFinished })
            // Appending to it with today's writer continues the chain.
            let writer = try JournalWriter(directory: dir + "/journal", options: writerOptions())
            try await writer.append(.planFinished(PlanFinished(planID: 99, kind: .assign, outcome: .completed)))
            writer.close()
            #expect(try JournalVerifier.verify(directory: dir + "/journal").isIntact)
        }
    }

    @Test func typedRecordsCarryTheirKindActionsAndSchema() throws {
        let step = PlannedStep(device: nic, action: .driverOverride, argument: "none")
        #expect(step.operation == "driver_override=none")
        let plan = ActionPlan(planID: 3, group: nicGroup, owner: "vm1", reason: "words recovery never reads", steps: [step],
                              kind: .assign, schema: JournalSchema.current)
        let line = try RecordCodec.encodeLine(JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: nil,
                                                           event: .actionPlanned(plan), prev: JournalRecord.genesisHash)).line
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""kind":"assign""#) && text.contains(#""schema":2"#) && text.contains(#""action":"driver_override""#))
        guard case .valid(let record) = RecordCodec.check(line), case .actionPlanned(let decoded) = record.event else {
            Issue.record("does not decode: \(text)")
            return
        }
        #expect(decoded.planKind == .assign)
        #expect(decoded.steps.first?.typedAction?.argument == "none")
    }

    @Test func newRecordKindsComeLastSoMessageIDsStayStable() {
        // The message id of every kind the release before typed plans had (recovery was its last) is unchanged.
        #expect(RecordKind.eventSeen.messageID == "8d3f6a1e5c2b4f7a9e0d1c2b3a4f5e01")
        #expect(RecordKind.recovery.messageID == "8d3f6a1e5c2b4f7a9e0d1c2b3a4f5e0f")
        // Kinds added since come after it, in the order they were added.
        #expect(Array(RecordKind.allCases.suffix(3)) == [.planFinished, .planRefused, .flapping])
        #expect(RecordKind.planFinished.messageID == "8d3f6a1e5c2b4f7a9e0d1c2b3a4f5e10")
    }

    @Test func verifyReportsAPlanWhoseOutcomeWasNeverRecordedUntilItIsRecovered() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            let plan = ActionPlan(planID: 5, group: nicGroup, owner: "vm1", reason: "assign to vm1",
                                  steps: [PlannedStep(device: nic, action: .unbind, argument: "e1000e")], kind: .assign, schema: JournalSchema.current)
            try await writer.append(.actionPlanned(plan))
            try await writer.append(.stepStarted(StepStarted(planID: 5, step: 1, device: nic, operation: "unbind e1000e", driverBefore: "e1000e",
                                                             action: .unbind, argument: "e1000e")))
            let open = try JournalVerifier.verify(directory: dir)
            #expect(open.problems.map(\.kind) == [.unfinished], "\(open.problems)")
            #expect(open.problems.first?.message.contains("plan 5 (assign") == true)
            #expect(open.problems.first?.line == 1)
            try await writer.append(.recovery(Recovery(planID: 5, reason: "assign to vm1", group: nicGroup, owner: "vm1",
                                                       outcome: .finished, devices: [], detail: "")))
            writer.close()
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }

    @Test func aPlanThatEndsWithPlanFinishedVerifies() async throws {
        try await withTemporaryDirectory { dir in
            let writer = try JournalWriter(directory: dir, options: writerOptions())
            try await writer.append(.actionPlanned(ActionPlan(planID: 1, group: nicGroup, reason: "enforce", steps: [], kind: .enforce,
                                                              schema: JournalSchema.current)))
            try await writer.append(.planFinished(PlanFinished(planID: 1, kind: .enforce, outcome: .rolledBack, failure: "x",
                                                               failureKind: "write-failed", errno: 5)))
            writer.close()
            #expect(try JournalVerifier.verify(directory: dir).isIntact)
        }
    }
}
