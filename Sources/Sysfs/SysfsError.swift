import SystemPackage

/// A failed operation on a sysfs file: what was attempted, on which path, and the `errno` the kernel gave.
public struct SysfsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The operation, in words a reader of the kernel documentation recognises ("read", "write", "readlink", "list").
    public var operation: String
    /// The full path under the sysfs root.
    public var path: String
    /// The error the system call returned.
    public var errno: Errno

    public init(operation: String, path: String, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(operation) \(path): \(errno.description) (errno \(errno.rawValue))"
    }
}
