#if canImport(Glibc)
import Glibc
#endif

/// Reads reply lines from one control connection, keeping what arrived after a newline for the next line: a
/// client that sends several requests before reading (pipelining) gets every reply, in order.
public struct ControlReplyReader {
    public let fd: Int32
    public let path: String
    /// The longest reply line accepted.
    public var limit: Int
    private var pending: [UInt8] = []

    public init(fd: Int32, path: String, limit: Int = 256 << 20) {
        self.fd = fd
        self.path = path
        self.limit = limit
    }

    /// The next line, without its newline; fails on `recv(2)` errors (`EAGAIN` after the socket's receive
    /// timeout), at EOF, or past `limit` bytes.
    public mutating func nextLine() throws(ControlSocketError) -> [UInt8] {
        var searched = 0
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            if let newline = pending[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                return line
            }
            searched = pending.count
            if pending.count > limit {
                throw ControlSocketError(operation: "recv", path: path, errno: EMSGSIZE, detail: "a reply longer than \(limit) bytes")
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ControlSocketError(operation: "recv", path: path, errno: errno)
            }
            if count == 0 {
                throw ControlSocketError(operation: "recv", path: path, errno: 0, detail: "the agent closed the connection without a reply")
            }
            pending += chunk[..<count]
        }
    }
}
