import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The one-writer lock: `agent.pid` in the run directory, held with `flock(LOCK_EX|LOCK_NB)` for the agent's
/// life and holding its pid, so that a second agent refuses to start and names the first.
public final class RunLock: Sendable {
    public let path: String
    private let fd: Int32
    private let released = Mutex(false)

    /// Takes the lock, creating the run directory (0755) when missing.
    public init(runDirectory: String, pid: Int32 = getpid()) throws(ControlSocketError) {
        if mkdir(runDirectory, 0o755) != 0 && errno != EEXIST {
            throw ControlSocketError(operation: "mkdir", path: runDirectory, errno: errno)
        }
        path = runDirectory + "/agent.pid"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ControlSocketError(operation: "open", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readPID(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw ControlSocketError(operation: "flock", path: path, errno: code,
                                         detail: "another agent is running" + (holder.map { " (pid \($0))" } ?? "") + "; stop it first")
            }
            throw ControlSocketError(operation: "flock", path: path, errno: code)
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(pid)\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    /// The pid written in a lock file, if any.
    public static func holder(runDirectory: String) -> Int32? {
        let fd = open(runDirectory + "/agent.pid", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readPID(fd)
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters())
    }

    /// Releases the lock (and removes the pid file, which is only meaningful while locked).
    public func release() {
        guard released.withLock({ wasReleased in
            defer { wasReleased = true }
            return !wasReleased
        }) else { return }
        unlink(path)
        close(fd)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(self.filter { !$0.isWhitespace })
    }
}
