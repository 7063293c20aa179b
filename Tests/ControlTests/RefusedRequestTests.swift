import Foundation
import Journal
import Synchronization
import Sysfs
import Testing
@testable import Agent
@testable import Control

/// Issue 13 item 4: a refused assign, release or plan request sent to the agent leaves a trace in the journal (who,
/// what, why), rate-limited per uid like refused connections.
@Suite struct RefusedRequestTests {
    static let sata = PCIAddress.literal("0000:00:1f.2")

    func refusedRecords(_ host: TestHost) throws -> [(JournalRecord, RecordRefused)] {
        try JournalReader(directory: host.journalDirectory).records().compactMap { record in
            if case .recordRefused(let refused) = record.event { return (record, refused) }
            return nil
        }
    }

    @Test func refusedAssignReleaseAndPlanAreJournaledWithWhoWhatAndWhy() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        let service = ControlService(engine: try host.makeEngine(journal: journal), journal: journal,
                                     agent: { TestHost.agentInfo }, authorize: { _, _ in .allowed })
        let requests = [
            (ControlRequest(op: .assign, devices: [Self.sata], owner: "vm2"), UInt32(0)),
            (ControlRequest(op: .release, owner: "nobody"), UInt32(1001)),
            (ControlRequest(op: .plan, devices: [Self.sata], owner: "vm2", action: .assign), UInt32(1002)),
        ]
        for (request, uid) in requests {
            let reply = await service.handle(request, peer: PeerCredentials(pid: 4242, uid: uid, gid: 0))
            #expect(reply.exitCode == 1, "\(request.summary) is refused")
        }
        let refused = try refusedRecords(host)
        #expect(refused.count == 3, "one record per refused request: \(refused.map(\.1.reason))")
        for ((request, uid), (record, body)) in zip(requests, refused) {
            // Who: the uid and pid; what: the request; why: the refusal naming the device.
            #expect(StoryRenderer.causeText(record.cause).contains("uid \(uid) pid 4242"), "\(StoryRenderer.causeText(record.cause))")
            #expect(body.reason.hasPrefix("request refused: \(request.summary): "), "\(body.reason)")
        }
        #expect(refused[0].1.reason.contains("0000:00:1f.2: is outside the allowlist"), "\(refused[0].1.reason)")
        #expect(refused[1].1.reason.contains("nobody"))
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }

    @Test func refusalsOfOneUIDAreRateLimitedAndCounted() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        var service = ControlService(engine: try host.makeEngine(journal: journal), journal: journal,
                                     agent: { TestHost.agentInfo }, authorize: { _, _ in .allowed })
        // A clock that stands still: every request falls within the first one's window, however slow the machine.
        let now = ContinuousClock.now
        service.refusedRequests = RefusedRequests(SharedRefusalLimiter(now: { now }))
        let plan = ControlRequest(op: .plan, devices: [Self.sata], owner: "vm2", action: .assign)
        for _ in 0..<20 {
            _ = await service.handle(plan, peer: PeerCredentials(pid: 7, uid: 1000, gid: 1000))
        }
        _ = await service.handle(plan, peer: PeerCredentials(pid: 8, uid: 1001, gid: 1000))
        let refused = try refusedRecords(host)
        // uid 1000: the first journaled, 19 counted within the minute; uid 1001: its own first one.
        #expect(refused.count == 2, "\(refused.map(\.1.reason))")
        #expect(refused.map { StoryRenderer.causeText($0.0.cause).contains("uid 1000") } == [true, false])
    }

    /// Issue 19: a read-group member refused `assign`/`release` (only root may change state) goes through the same
    /// per-uid limiter as a stranger's refused connection, not one record per request.
    @Test func readGroupRefusalsAreRateLimitedLikeStrangers() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        // A clock the test moves: a thousand requests within one window, then one past it.
        final class MovableClock: Sendable {
            let now = Mutex(ContinuousClock.now)
        }
        let clock = MovableClock()
        let access = ControlAccess(readGroup: 990, readGroupName: "vfio-readers")
        let service = ControlService(engine: try host.makeEngine(journal: journal), journal: journal,
                                     agent: { TestHost.agentInfo }, authorize: { access.decide($0, for: $1) },
                                     admit: { access.decideConnection(for: $0) },
                                     refusals: SharedRefusalLimiter(now: { clock.now.withLock { $0 } }))
        let member = PeerCredentials(pid: 77, uid: 1000, gid: 990)
        for index in 0..<1_000 {
            let request = index % 2 == 0 ? ControlRequest(op: .assign, devices: [Self.sata], owner: "vm2")
                                         : ControlRequest(op: .release, owner: "vm2")
            let reply = await service.handle(request, peer: member)
            #expect(reply.exitCode != 0, "a read-group member's \(request.summary) is refused")
        }
        #expect(try refusedRecords(host).count == 1, "the first refusal journaled, 999 counted")
        clock.now.withLock { $0 = $0.advanced(by: .seconds(61)) }
        _ = await service.handle(ControlRequest(op: .assign, devices: [Self.sata], owner: "vm2"), peer: member)
        let refused = try refusedRecords(host)
        #expect(refused.count == 2, "\(refused.map(\.1.reason))")
        #expect(refused.allSatisfy { StoryRenderer.causeText($0.0.cause).contains("uid 1000 pid 77") })
        #expect(refused.first?.1.reason.contains("only root") == true, "\(refused.first?.1.reason ?? "")")
        #expect(refused.last?.1.reason.contains("and 999 more of uid 1000") == true, "\(refused.last?.1.reason ?? "")")
        #expect(try JournalVerifier.verify(directory: host.journalDirectory).isIntact)
    }
}
