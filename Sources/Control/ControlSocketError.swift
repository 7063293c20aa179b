#if canImport(Glibc)
import Glibc
#endif

/// A socket, lock or notification call that failed: the operation, the path and the errno.
public struct ControlSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public var detail: String?

    public init(operation: String, path: String, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let reason = errno == 0 ? "" : ": \(String(cString: strerror(errno))) (errno \(errno))"
        return "\(operation) \(path)\(reason)" + (detail.map { ": \($0)" } ?? "")
    }
}
