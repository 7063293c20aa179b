import SystemPackage

/// A failed journal operation: what was attempted, on which path, and the `errno` when a system call failed.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A system call failed; `errno` says why.
        case io
        /// Another writer holds the journal's lock file (`journal.lock`, `flock(2)`).
        case locked
        /// The writer was closed, or failed earlier and refuses further appends.
        case closed
        /// A record could not be encoded or decoded.
        case malformed
    }

    public var kind: Kind
    /// The operation, e.g. "open", "write", "fsync", "flock", "rename".
    public var operation: String
    /// The file or directory concerned.
    public var path: String
    /// The error the system call returned, when one did.
    public var errno: Errno?
    /// More words, when the errno alone does not say it.
    public var detail: String?

    public init(_ kind: Kind = .io, operation: String, path: String, errno: Errno? = nil, detail: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var text = "\(operation) \(path)"
        if let detail { text += ": \(detail)" }
        if let errno { text += ": \(errno.description) (errno \(errno.rawValue))" }
        return text
    }
}
