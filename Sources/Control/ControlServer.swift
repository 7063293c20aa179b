import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The control socket: an `AF_UNIX` stream socket at a path the caller chooses, one accept loop, one thread per
/// connection reading line-delimited requests (blocking reads stay off Swift's cooperative pool), each request
/// answered by the async handler before the next line of that connection is read. Connections never wait for
/// each other; the handler (the engine actor) serialises what must be serialised.
public final class ControlServer: Sendable {
    public typealias Handler = @Sendable (_ line: [UInt8], _ peer: PeerCredentials) async -> [UInt8]
    /// A connection just accepted: `nil` lets it make requests; a reply line refuses it (sent, then closed).
    public typealias Screen = @Sendable (_ peer: PeerCredentials) async -> [UInt8]?

    public let path: String
    private let listener: Int32
    private let handler: Handler
    private let screen: Screen?
    private let credentials: @Sendable (Int32) -> PeerCredentials?
    private let state = Mutex(State())
    private let acceptLoopEnded = DispatchSemaphore(value: 0)
    /// Connections served at once at most; one more is told so and closed. Each holds a descriptor and a thread:
    /// the agent raises its open-file limit at start (``OpenFileLimit``).
    public let maximumConnections: Int
    /// Connections one non-root uid may hold at once (root is not limited), so that a local user cannot take every
    /// slot of ``maximumConnections``: the socket is mode 0666 and the agent refuses strangers itself.
    public let maximumConnectionsPerUser: Int
    static let connectionStackSize = 512 * 1024

    struct State {
        var connections: Set<Int32> = []
        /// Open connections of each non-root uid.
        var connectionsByUID: [UInt32: Int] = [:]
        var stopped = false
        var started = false
        var activeRequests = 0
    }

    /// Binds and listens at `path` (a stale socket file there is removed: the caller holds the run lock, so no
    /// other agent owns it), mode 0666: anyone may connect, and `screen` (``ControlService/screen(_:)``) decides
    /// from `SO_PEERCRED` who is answered, so that a refusal reaches the caller and the journal.
    public init(path: String, maximumConnections: Int = 4096, maximumConnectionsPerUser: Int = 64,
                credentials: (@Sendable (Int32) -> PeerCredentials?)? = nil, screen: Screen? = nil,
                handler: @escaping Handler) throws(ControlSocketError) {
        self.path = path
        self.handler = handler
        self.screen = screen
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerUser = maximumConnectionsPerUser
        self.credentials = credentials ?? { UnixSocket.peerCredentials($0) }
        let fd = try UnixSocket.socket(Int32(SOCK_STREAM.rawValue), path: path)
        if !path.hasPrefix("@") {
            var info = stat()
            if lstat(path, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFSOCK else {
                    close(fd)
                    throw ControlSocketError(operation: "bind", path: path, errno: EEXIST, detail: "exists and is not a socket")
                }
                unlink(path)
            }
        }
        let bound = try UnixSocket.withAddress(path) { bind(fd, $0, $1) }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw ControlSocketError(operation: "bind", path: path, errno: code)
        }
        if !path.hasPrefix("@") { _ = chmod(path, 0o666) }
        // SOMAXCONN (4096; the kernel caps it at net.core.somaxconn): a thousand clients connecting at once wait in
        // the backlog for the accept loop instead of finding it full (a blocking connect(2) on AF_UNIX then waits).
        guard listen(fd, SOMAXCONN) == 0 else {
            let code = errno
            close(fd)
            throw ControlSocketError(operation: "listen", path: path, errno: code)
        }
        listener = fd
    }

    /// Starts the accept loop on its own thread.
    public func start() {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard first else { return }
        Thread.detachNewThread { [self] in
            acceptLoop()
            acceptLoopEnded.signal()
        }
    }

    /// Stops accepting, ends every connection (a request being handled finishes; its reply may not be sent),
    /// and removes the socket file. Returns once the accept loop has ended.
    public func stop() {
        let stopping = state.withLock { state -> (connections: Set<Int32>, started: Bool)? in
            if state.stopped { return nil }
            state.stopped = true
            return (state.connections, state.started)
        }
        // A second stop (deinit after stop) must not close the listener's descriptor again: its number may be reused.
        guard let (connections, started) = stopping else { return }
        // shutdown(2) wakes the thread blocked in accept(2) or recv(2).
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        if started { acceptLoopEnded.wait() }
        close(listener)
        if !path.hasPrefix("@") { unlink(path) }
    }

    deinit { stop() }

    /// Waits until no request is being handled (after ``stop()``, so that none starts), or `timeout` passes.
    /// Returns whether none is left.
    public func waitForRequests(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ $0.activeRequests }) > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Connections open now.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if state.withLock({ $0.stopped }) { return }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    usleep(50_000)
                    continue
                }
                return
            }
            guard let peer = credentials(fd) else {
                let reply = ControlReply.failure(ControlProtocolError(.refused, "the caller's credentials (SO_PEERCRED) could not be read")).encodedLine()
                UnixSocket.setTimeout(fd, seconds: 1)
                try? UnixSocket.sendAll(fd, reply, path: path)
                close(fd)
                continue
            }
            let admitted = state.withLock { state -> Admission in
                if state.stopped { return .stopped }
                guard state.connections.count < maximumConnections else { return .full }
                if peer.uid != 0 {
                    guard state.connectionsByUID[peer.uid, default: 0] < maximumConnectionsPerUser else { return .fullForUser }
                    state.connectionsByUID[peer.uid, default: 0] += 1
                }
                state.connections.insert(fd)
                return .admitted
            }
            switch admitted {
            case .stopped:
                close(fd)
                return
            case .full, .fullForUser:
                let message = admitted == .full
                    ? "too many connections (\(maximumConnections)); try again"
                    : "uid \(peer.uid) has \(maximumConnectionsPerUser) connections open already, the most one user may hold; try again"
                // A short send timeout: the accept loop must not wait on a peer that does not read.
                UnixSocket.setTimeout(fd, seconds: 1)
                try? UnixSocket.sendAll(fd, ControlReply.failure(ControlProtocolError(.failed, message)).encodedLine(), path: path)
                close(fd)
            case .admitted:
                let thread = Thread { [self] in
                    serve(fd, peer: peer)
                    state.withLock { state in
                        _ = state.connections.remove(fd)
                        if peer.uid != 0 {
                            let left = state.connectionsByUID[peer.uid, default: 1] - 1
                            state.connectionsByUID[peer.uid] = left > 0 ? left : nil
                        }
                    }
                    close(fd)
                }
                // A connection's thread only reads, waits for the handler and writes: a small stack, so that
                // thousands of them stay cheap (the default is 8 MiB of address space each).
                thread.stackSize = Self.connectionStackSize
                thread.start()
            }
        }
    }

    private enum Admission { case admitted, full, fullForUser, stopped }

    /// Screens the caller (a refused one gets its one reply, nothing it sent is read), then reads lines until EOF;
    /// each complete line gets exactly one reply line, in order.
    private func serve(_ fd: Int32, peer: PeerCredentials) {
        UnixSocket.setTimeout(fd, seconds: 300)
        if let screen, let refusal = waitFor({ await screen(peer) }) {
            try? UnixSocket.sendAll(fd, refusal, path: path)
            return
        }
        var buffer: [UInt8] = []
        var discarding = false
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let limit = ControlRequest.maximumLineBytes
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            var start = 0
            while start < count {
                guard let newline = chunk[start..<count].firstIndex(of: UInt8(ascii: "\n")) else {
                    if !discarding { buffer += chunk[start..<count] }
                    if !discarding && buffer.count > limit {
                        // Answer at once and skip the rest of the line: the connection stays usable.
                        discarding = true
                        buffer.removeAll()
                        let error = ControlProtocolError(.lineTooLong, "the request is longer than \(limit) bytes; it was not read")
                        guard (try? UnixSocket.sendAll(fd, ControlReply.failure(error).encodedLine(), path: path)) != nil else { return }
                    }
                    break
                }
                if discarding {
                    discarding = false
                } else {
                    buffer += chunk[start..<newline]
                    let line = buffer
                    buffer.removeAll(keepingCapacity: true)
                    if line.count > limit {
                        let error = ControlProtocolError(.lineTooLong, "the request is longer than \(limit) bytes; it was not read")
                        guard (try? UnixSocket.sendAll(fd, ControlReply.failure(error).encodedLine(), path: path)) != nil else { return }
                    } else if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                        // No request starts after stop(): waitForRequests() then sees every one that runs.
                        let admitted = state.withLock { state -> Bool in
                            if state.stopped { return false }
                            state.activeRequests += 1
                            return true
                        }
                        guard admitted else { return }
                        let reply = waitFor { [handler] in await handler(line, peer) }
                        state.withLock { $0.activeRequests -= 1 }
                        guard (try? UnixSocket.sendAll(fd, reply, path: path)) != nil else { return }
                    }
                }
                start = newline + 1
            }
        }
    }
}

/// Runs `body` as a task and blocks this (dedicated, non-pool) thread until it returns.
private func waitFor<Result: Sendable>(_ body: @escaping @Sendable () async -> Result) -> Result {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result?>(nil)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}
