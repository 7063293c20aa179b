import Testing
import Foundation
import ControlLoad

/// The load run at CI size: 200 control clients at once, a VF storm of 600 uevents per round into a receive
/// queue of 64 events (so that it overflows), two rounds. The full size (1,000 clients, 10,000 events) is
/// `Benchmarks/run load`.
@Suite struct LoadTests {
    @Test func `many clients and a VF storm: every request answered, no event lost without a resync, memory flat`() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/vw-load-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = LoadRun.Configuration()
        configuration.clients = 200
        configuration.stormEvents = 600
        configuration.eventBufferLimit = 64
        configuration.claimEvery = 100
        configuration.rounds = 2
        let report = try await LoadRun(directory: directory, configuration: configuration).run()
        print(report.markdown)
        #expect(report.problems.isEmpty, "\(report.markdown)")
        #expect(report.rounds.allSatisfy { $0.replies == configuration.clients * configuration.requestsPerClient })
        #expect(report.rounds.allSatisfy { $0.claims > 0 }, "a host driver claimed assigned members")
        #expect(report.overflows > 0, "the 64-event queue overflowed under the storm: \(report.markdown)")
        #expect(report.resyncsJournaled == report.overflows)
        #expect(report.journalIntact)
        // Flat: the second round leaves no more than 32 MB on top of the first.
        #expect(report.rounds[1].residentKB - report.rounds[0].residentKB < 32 * 1024, "\(report.markdown)")
    }
}
