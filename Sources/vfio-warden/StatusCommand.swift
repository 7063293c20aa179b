import ArgumentParser
import Control

/// `vfio-warden status`: what the running agent holds and enforces, asked over its control socket.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running agent for every group's state, the assignments it holds and its own state.",
        discussion: "Root, and members of the agent's --read-group, may ask. Exit status 1 when no agent answers."
    )
    @Option(name: .customLong("control-socket"), help: ArgumentHelp("The agent's control socket.", valueName: "path"))
    var controlSocket: String = ControlOptions.defaultSocket
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let answering: Int32?
        do {
            answering = try ControlClient.connectIfAnswering(controlSocket)
        } catch {
            throw CommandFailure("cannot ask the agent: \(error)")
        }
        guard let connection = answering else {
            throw CommandFailure("no agent answers at \(controlSocket) (is `vfio-warden agent` running? see --control-socket)")
        }
        let reply: ControlReplySummary
        do {
            reply = try ControlClient.exchange(ControlRequest(op: .status, format: json ? .json : .text), on: connection, path: controlSocket)
        } catch {
            throw CommandFailure("the agent at \(controlSocket) did not answer: \(error)")
        }
        guard reply.ok else { throw CommandFailure("the agent refused: \(reply.error?.message ?? "no reason given")") }
        StandardOutput.write(reply.output ?? "")
    }
}
