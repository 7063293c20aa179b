#if canImport(Glibc)
import Glibc
#endif

/// The CLI's side of the control socket: one request, one reply.
public enum ControlClient {
    /// Whether an agent answers at `path`: the socket file exists and a connection is accepted. `nil` when none
    /// answers (no socket file, nobody listening); throws when `connect(2)` fails with `EACCES` or `EPERM`: the
    /// socket is there but keeps this caller out (the agent's socket is 0666 and the agent refuses strangers with a
    /// `refused` reply, but a directory's mode or an older agent's 0600 socket can), and "no agent" would be wrong.
    public static func connectIfAnswering(_ path: String, timeout seconds: Int = 120) throws(ControlSocketError) -> Int32? {
        var info = stat()
        if !path.hasPrefix("@") {
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return nil }
        }
        do {
            return try UnixSocket.connect(path, timeout: seconds)
        } catch where error.errno == EACCES || error.errno == EPERM {
            var denied = error
            denied.detail = "only root and members of the agent's --read-group may use its control socket (this is uid \(getuid()))"
            throw denied
        } catch {
            return nil
        }
    }

    /// Sends `request` on a connection from ``connectIfAnswering(_:timeout:)`` (closing it) and returns the reply.
    /// A caller the agent refuses gets its reply (code `refused`) at once and the connection closed, maybe before
    /// the request is sent: when sending fails, the reply already there is still read.
    public static func exchange(_ request: ControlRequest, on fd: Int32, path: String) throws -> ControlReplySummary {
        defer { close(fd) }
        return try ControlReplySummary.decode(sendThenReceive(request.encodedLine(), on: fd, path: path))
    }

    /// Sends `bytes` and reads one reply line; when sending fails (the agent refused the caller and closed at once),
    /// the reply already received is still returned, else the send error is thrown.
    static func sendThenReceive(_ bytes: [UInt8], on fd: Int32, path: String) throws(ControlSocketError) -> [UInt8] {
        do {
            try UnixSocket.sendAll(fd, bytes, path: path)
        } catch {
            guard let line = try? UnixSocket.receiveLine(fd, limit: 256 << 20, path: path) else { throw error }
            return line
        }
        return try UnixSocket.receiveLine(fd, limit: 256 << 20, path: path)
    }

    /// A connection that stays open for several requests (send each with ``send(_:on:path:)``, read replies
    /// with a ``ControlReplyReader``); the caller closes it.
    public static func connect(_ path: String, timeout seconds: Int = 30) throws(ControlSocketError) -> Int32 {
        try UnixSocket.connect(path, timeout: seconds)
    }

    /// Writes every byte of `bytes` (one or more request lines, each with its newline) on `fd`.
    public static func send(_ bytes: [UInt8], on fd: Int32, path: String) throws(ControlSocketError) {
        try UnixSocket.sendAll(fd, bytes, path: path)
    }

    /// Connects, sends one raw line (newline added), returns the raw reply line: for tests and scripts.
    public static func rawExchange(_ line: [UInt8], path: String, timeout seconds: Int = 30) throws(ControlSocketError) -> [UInt8] {
        let fd = try UnixSocket.connect(path, timeout: seconds)
        defer { close(fd) }
        return try sendThenReceive(line + [UInt8(ascii: "\n")], on: fd, path: path)
    }
}
