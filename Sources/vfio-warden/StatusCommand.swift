import ArgumentParser
import Control
import Foundation

/// `vfio-warden status`: what the running agent holds and enforces, asked over its control socket.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running agent for every group's state, the assignments it holds and its own state.",
        discussion: """
            Root, and members of the agent's --read-group, may ask. Exit status 1 when no agent answers.
            --k8s-labels prints the node's labels (vfio-warden.io/agent, mode, version, groups-assigned, \
            groups-host, groups-isolated, groups-violated, groups-blocked) and the annotation vfio-warden.io/groups \
            (every group's state as JSON) as one JSON merge patch: kubectl patch node NODE --type merge -p "$(vfio-warden \
            status --k8s-labels)". contrib/kubernetes/node-labels.sh applies it in a loop.
            """
    )
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("control-socket"), help: ArgumentHelp(
        "The agent's control socket (default \(ControlOptions.defaultSocket); for another --sysfs-root D/sys, "
            + "D/run/vfio-warden/control.sock, where an agent over that tree listens by default).", valueName: "path"))
    var controlSocketOption: String?

    /// `--control-socket`, or the default for `--sysfs-root`.
    var controlSocket: String { controlSocketOption ?? ControlOptions.defaultSocket(for: global.sysfsRoot) }
    @Flag(help: "Print JSON.") var json = false
    @Flag(name: .customLong("k8s-labels"), help: "Print Kubernetes node labels and annotations with the groups' states, as a JSON merge patch.")
    var kubernetesLabels = false

    func validate() throws {
        if json && kubernetesLabels { throw ValidationError("--json and --k8s-labels: choose one") }
    }

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
            reply = try ControlClient.exchange(ControlRequest(op: .status, format: json || kubernetesLabels ? .json : .text),
                                               on: connection, path: controlSocket)
        } catch {
            throw CommandFailure("the agent at \(controlSocket) did not answer: \(error)")
        }
        guard reply.ok else {
            throw CommandFailure("the agent at \(controlSocket) refused: \(reply.error?.message ?? "no reason given")"
                                 + (reply.error.map { " (\($0.code.rawValue))" } ?? ""))
        }
        guard kubernetesLabels else {
            StandardOutput.write(reply.output ?? "")
            return
        }
        do {
            let status = try JSONDecoder().decode(AgentStatus.self, from: Data((reply.output ?? "").utf8))
            StandardOutput.write(try NodeLabels(status).mergePatch())
        } catch {
            throw CommandFailure("the agent's status could not be read as labels: \(error)")
        }
    }
}
