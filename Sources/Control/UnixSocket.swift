#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the socket calls the control socket and sd_notify need; every failure names the call,
/// the path and the errno.
enum UnixSocket {
    /// `SO_PEERCRED` and `SO_PEERGROUPS` from asm-generic/socket.h (x86-64, arm64).
    static let peerCredentialsOption: Int32 = 17
    static let peerGroupsOption: Int32 = 59

    /// `struct ucred`: pid, uid, gid.
    struct UCred {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// A `sockaddr_un` for `path`; a path starting with `@` names an abstract socket (a leading NUL byte).
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws(ControlSocketError) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw ControlSocketError(operation: "bind", path: path, errno: ENAMETOOLONG,
                                     detail: "a socket path has 1 to \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    static func socket(_ type: Int32, path: String) throws(ControlSocketError) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError(operation: "socket", path: path, errno: errno) }
        return fd
    }

    static func connect(_ path: String, timeout seconds: Int = 30) throws(ControlSocketError) -> Int32 {
        let fd = try socket(Int32(SOCK_STREAM.rawValue), path: path)
        let status = try withAddress(path) { Glibc.connect(fd, $0, $1) }
        guard status == 0 else {
            let code = errno
            close(fd)
            throw ControlSocketError(operation: "connect", path: path, errno: code)
        }
        setTimeout(fd, seconds: seconds)
        return fd
    }

    static func setTimeout(_ fd: Int32, seconds: Int) {
        var time = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes every byte (retrying on `EINTR` and short writes); `MSG_NOSIGNAL` so a gone peer is `EPIPE`, not SIGPIPE.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(ControlSocketError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw ControlSocketError(operation: "send", path: path, errno: errno)
            }
            offset += sent
        }
    }

    /// Reads until a newline (returned without it), or fails at EOF, a timeout or more than `limit` bytes; what
    /// came after the newline is dropped (one request, one reply).
    static func receiveLine(_ fd: Int32, limit: Int, path: String) throws(ControlSocketError) -> [UInt8] {
        var reader = ControlReplyReader(fd: fd, path: path, limit: limit)
        return try reader.nextLine()
    }

    static func peerCredentials(_ fd: Int32) -> PeerCredentials? {
        var credentials = UCred()
        var length = socklen_t(MemoryLayout<UCred>.size)
        guard getsockopt(fd, SOL_SOCKET, peerCredentialsOption, &credentials, &length) == 0 else { return nil }
        var groups = [UInt32](repeating: 0, count: 256)
        var groupsLength = socklen_t(groups.count * MemoryLayout<UInt32>.size)
        let found = groups.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, peerGroupsOption, $0.baseAddress, &groupsLength) } == 0
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid,
                               groups: found ? Array(groups.prefix(Int(groupsLength) / MemoryLayout<UInt32>.size)) : [])
    }
}
