// `EventBench load DIR [--journal DIR]`: LoadRun at full size (1,000 control clients at once, 10,000 storm uevents per
// round, three rounds), its figures as Markdown on standard output; exit 1 when a check failed.
import ControlLoad
import Foundation

func runLoad(directory: String, arguments: [String]) async -> Int32 {
    var configuration = LoadRun.Configuration()
    configuration.rounds = 3
    var rest = arguments
    if let index = rest.firstIndex(of: "--journal"), index + 1 < rest.count {
        configuration.journalDirectory = rest[index + 1]
        rest.removeSubrange(index...(index + 1))
    }
    while rest.count >= 2, let value = Int(rest[1]) {
        switch rest[0] {
        case "--clients": configuration.clients = value
        case "--requests": configuration.requestsPerClient = value
        case "--events": configuration.stormEvents = value
        case "--buffer": configuration.eventBufferLimit = value
        case "--claim-every": configuration.claimEvery = value
        case "--rounds": configuration.rounds = value
        default:
            print("unknown option \(rest[0]) (known: --clients, --requests, --events, --buffer, --claim-every, --rounds, --journal)")
            return 2
        }
        rest.removeFirst(2)
    }
    guard rest.isEmpty else {
        print("cannot read the options \(rest.joined(separator: " ")): each is --NAME NUMBER")
        return 2
    }
    print("\(configuration.clients) clients × \(configuration.requestsPerClient) requests, \(configuration.stormEvents) storm uevents per round, "
          + "receive queue \(configuration.eventBufferLimit) events, a claim every \(configuration.claimEvery) storm uevents, \(configuration.rounds) rounds")
    print("")
    do {
        let report = try await LoadRun(directory: directory, configuration: configuration).run()
        print(report.markdown)
        return report.problems.isEmpty ? 0 : 1
    } catch {
        print("load run failed: \(error)")
        return 1
    }
}
