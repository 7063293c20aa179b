#if canImport(Glibc)
import Glibc
#endif

/// systemd's notification protocol (sd_notify(3)), implemented directly: one datagram per message, sent to the
/// `AF_UNIX` socket named by `NOTIFY_SOCKET` (a leading `@` names an abstract socket).
public struct SystemdNotifier: Sendable {
    /// Where messages go; `nil` when not started by systemd with `Type=notify` (every call does nothing).
    public let socketPath: String?
    /// `WATCHDOG_USEC` when it is meant for this process (`WATCHDOG_PID` absent or ours).
    public let watchdogMicroseconds: UInt64?

    public init(socketPath: String?, watchdogMicroseconds: UInt64? = nil) {
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
        self.watchdogMicroseconds = watchdogMicroseconds.flatMap { $0 == 0 ? nil : $0 }
    }

    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    public static func fromEnvironment(_ environment: [String: String], pid: Int32 = getpid()) -> SystemdNotifier {
        var watchdog = environment["WATCHDOG_USEC"].flatMap(UInt64.init)
        if let owner = environment["WATCHDOG_PID"].flatMap(Int32.init), owner != pid { watchdog = nil }
        return SystemdNotifier(socketPath: environment["NOTIFY_SOCKET"], watchdogMicroseconds: watchdog)
    }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    public var watchdogInterval: Duration? {
        watchdogMicroseconds.map { .microseconds(Int64($0 / 2)) }
    }

    public func ready(status: String? = nil) throws(ControlSocketError) {
        try send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }

    public func status(_ text: String) throws(ControlSocketError) { try send(["STATUS=\(text)"]) }
    public func watchdog() throws(ControlSocketError) { try send(["WATCHDOG=1"]) }
    public func stopping(status: String? = nil) throws(ControlSocketError) {
        try send(["STOPPING=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }
    public func reloading() throws(ControlSocketError) { try send(["RELOADING=1"]) }

    /// One datagram, `KEY=value` assignments separated by newlines.
    public func send(_ assignments: [String]) throws(ControlSocketError) {
        guard let socketPath else { return }
        let message = Array(assignments.map { $0.replacingNewlines() }.joined(separator: "\n").utf8)
        let fd = try UnixSocket.socket(Int32(SOCK_DGRAM.rawValue), path: socketPath)
        defer { close(fd) }
        let sent = try UnixSocket.withAddress(socketPath) { address, length in
            message.withUnsafeBytes { buffer in
                sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), address, length)
            }
        }
        guard sent == message.count else {
            throw ControlSocketError(operation: "sendto", path: socketPath, errno: sent < 0 ? errno : EMSGSIZE)
        }
    }
}

extension String {
    /// A value may not span lines in the protocol.
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
