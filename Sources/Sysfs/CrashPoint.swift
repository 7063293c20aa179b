#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// FOR TESTS ONLY: numbered places where the process may be killed on purpose, to check that a restarted agent
/// finds the journal, the assignments and sysfs in a state it can recover from (`Tests/CLITests/CrashPointTests`).
///
/// The crash points are: after each journal commit is durable (`JournalWriter`, after its `fsync(2)`) and after
/// each sysfs write of a plan step returns (`Executor`). They are armed by the environment, read once:
/// - `VFIO_WARDEN_CRASH_AT=N`: the Nth crash point the process reaches calls `_exit(2)` with status 137 (as
///   `SIGKILL` would be reported): no `defer`, no `atexit`, no flush, no journal close;
/// - `VFIO_WARDEN_CRASH_TRACE=FILE`: each crash point reached appends `N<TAB>label` to FILE (`O_APPEND`), so an
///   uncrashed run tells how many crash points it passed, and a crashed run where it died.
///
/// Unarmed (neither variable set, as on every real host) a crash point is one load of a lazily initialised
/// global and a branch.
public enum CrashPoint {
    public static let crashAtVariable = "VFIO_WARDEN_CRASH_AT"
    public static let traceVariable = "VFIO_WARDEN_CRASH_TRACE"
    /// What a crashed process exits with.
    public static let exitStatus: Int32 = 137

    struct Arming: Sendable {
        var crashAt: Int?
        var tracePath: String?
    }

    /// `nil` when neither variable is set.
    static let arming: Arming? = {
        let crashAt = getenv(crashAtVariable).flatMap { Int(String(cString: $0)) }
        let tracePath = getenv(traceVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        return crashAt == nil && tracePath == nil ? nil : Arming(crashAt: crashAt, tracePath: tracePath)
    }()

    /// How many crash points this process has passed.
    static let passed = Mutex(0)

    /// A crash point: counts it and, when armed for this one, kills the process at once. `label` (evaluated only
    /// when armed) says where: `journal step_started`, `sysfs bus/pci/drivers/e1000/unbind`.
    @inline(__always)
    public static func reached(_ label: @autoclosure () -> String) {
        guard let arming else { return }
        count(arming, label())
    }

    static func count(_ arming: Arming, _ label: String) {
        passed.withLock { passed in
            passed += 1
            if let tracePath = arming.tracePath {
                let line = Array("\(passed)\t\(label.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n"))\n".utf8)
                let fd = open(tracePath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                if fd >= 0 {
                    _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
            }
            if passed == arming.crashAt { _exit(exitStatus) }
        }
    }
}
