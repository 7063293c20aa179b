import SystemPackage

/// A failed libudev or system call made by the udev monitor: which call, on what, and the `errno` it gave.
public struct UdevError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The C function, as its man page names it (`udev_monitor_new_from_netlink`, `poll`, `pthread_create`).
    public var operation: String
    /// What it was called on or with (`source udev`, `subsystem pci`, `size 16777216`).
    public var what: String
    /// The error the call returned (libudev returns `-errno` or sets `errno` with a `NULL` result).
    public var errno: Errno

    public init(operation: String, what: String, errno: Errno) {
        self.operation = operation
        self.what = what
        self.errno = errno
    }

    public var description: String {
        "\(operation) (\(what)): \(errno.description) (errno \(errno.rawValue))"
    }
}
