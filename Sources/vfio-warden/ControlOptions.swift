import ArgumentParser
import Control
#if canImport(Glibc)
import Glibc
#endif

/// How `assign`, `release`, `plan` and `status` reach the agent: through its control socket when it answers,
/// directly on sysfs otherwise (or with `--direct`).
struct ControlOptions: ParsableArguments {
    static let defaultSocket = "/run/vfio-warden/control.sock"

    @Option(name: .customLong("control-socket"), help: ArgumentHelp(
        "The agent's control socket (default \(ControlOptions.defaultSocket); for another --sysfs-root D/sys, D/run/vfio-warden/control.sock).", valueName: "path"))
    var controlSocket: String?

    @Flag(help: "Act directly on sysfs, not through the agent (refused while the agent runs: it holds the journal).")
    var direct = false

    /// The socket to try: the one given, or the default one for `--sysfs-root`: the host agent's for the real /sys,
    /// and for a tree at D/sys the socket an agent over that tree opens by default (D/run/vfio-warden/control.sock).
    /// A command on a snapshot or a simulated tree never talks to the host's agent unless told to.
    func socketPath(_ global: GlobalOptions) -> String? {
        controlSocket ?? Self.defaultSocket(for: global.sysfsRoot)
    }

    /// The default control socket for `sysfsRoot` (``StateLocations/runDirectory(for:)``).
    static func defaultSocket(for sysfsRoot: String) -> String {
        StateLocations.runDirectory(for: sysfsRoot) + "/control.sock"
    }

    /// Sends `request` to the agent when one answers, prints what the direct command would print, and exits
    /// with its status. Returns `false` (nothing done) when no agent answers or `--direct` is given.
    func sendIfAgentRuns(_ request: ControlRequest, _ global: GlobalOptions) throws -> Bool {
        guard !direct, let path = socketPath(global) else { return false }
        let answering: Int32?
        do {
            answering = try ControlClient.connectIfAnswering(path)
        } catch {
            // The agent's socket is there but keeps this caller out: acting directly would not be allowed either.
            throw CommandFailure("cannot send the request to the agent: \(error)")
        }
        guard let connection = answering else { return false }
        let reply: ControlReplySummary
        do {
            reply = try ControlClient.exchange(request, on: connection, path: path)
        } catch {
            throw CommandFailure("the agent at \(path) did not answer: \(error)")
        }
        if let output = reply.output { StandardOutput.write(output) }
        for warning in reply.warnings ?? [] { StandardError.write("warning: \(warning)\n") }
        if !reply.ok {
            // Never acted on directly instead: a caller the agent refuses may not write sysfs either.
            if reply.error?.code == .refused {
                throw CommandFailure("the agent at \(path) refuses this caller: \(reply.error?.message ?? "no reason given") (refused); nothing was done")
            }
            throw CommandFailure("the agent refused the request: \(reply.error?.message ?? "no reason given")"
                                 + (reply.error.map { " (\($0.code.rawValue))" } ?? ""))
        }
        let status = reply.exitCode ?? 0
        if status != 0 { throw ExitCode(status) }
        return true
    }

    /// With `--direct` for a command that writes: refuses when the agent runs (it holds the journal's lock, and two
    /// writers to sysfs would fight), saying so rather than failing on the lock.
    func refuseDirectWhileAgentRuns(_ global: GlobalOptions) throws {
        guard direct, let path = socketPath(global) else { return }
        let answering: Int32?
        do {
            answering = try ControlClient.connectIfAnswering(path, timeout: 5)
        } catch {
            throw CommandFailure("--direct: cannot tell whether the agent runs: \(error)")
        }
        guard let connection = answering else { return }
        close(connection)
        throw CommandFailure("--direct: the agent is running (it answers at \(path)) and holds the journal lock, so it alone writes; "
                             + "run the command without --direct to send it to the agent, or stop the agent first")
    }
}
