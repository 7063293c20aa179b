#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`). Every control connection holds a descriptor; at the usual soft
/// limit of 1,024 a thousand clients at once would leave `accept(2)` failing with `EMFILE`. The soft limit may be
/// raised up to the hard one without privilege (systemd's default hard limit is 524,288), which the agent does at
/// start: it never uses `select(2)`, whose `FD_SETSIZE` is why the soft limit stays low by default.
public enum OpenFileLimit {
    /// The soft and hard limits now (`getrlimit(2)`).
    public static func current() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit (`setrlimit(2)`); returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseToHardLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
