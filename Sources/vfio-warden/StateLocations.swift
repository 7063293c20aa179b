#if canImport(Glibc)
import Glibc
#endif
import Sysfs

/// Where the journal, the state and the run directory are, and which directory plays `/proc`, for a given
/// `--sysfs-root`. For the machine's own `/sys`: the host's directories. For any other root (a snapshot, a tree
/// written by `example-tree`, a simulated tree) they are derived from the root, beside it, so that trying a
/// command on a tree never writes the host's state: a tree at `D/sys` (or a tarball `D/snap.tar.gz`) keeps its
/// state in `D/var/lib/vfio-warden`, its journal in `D/var/lib/vfio-warden/journal`, its run lock and control
/// socket in `D/run/vfio-warden`, and reads `D/proc` for host use.
enum StateLocations {
    static let hostStateDirectory = "/var/lib/vfio-warden"
    static let hostRunDirectory = "/run/vfio-warden"
    static let hostProc = "/proc"

    /// Whether `sysfsRoot` is the machine's own `/sys` (as given, or once symbolic links are resolved).
    static func isHost(_ sysfsRoot: String) -> Bool {
        if sysfsRoot == "/sys" || sysfsRoot == "/sys/" { return true }
        guard let resolved = realpath(sysfsRoot, nil) else { return false }
        defer { free(resolved) }
        return String(cString: resolved) == "/sys"
    }

    /// The directory that holds the tree (or the tarball): `D` for `D/sys`, `.` for `sys`.
    static func base(of sysfsRoot: String) -> String {
        var path = sysfsRoot
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func beside(_ sysfsRoot: String, _ relative: String) -> String {
        let base = base(of: sysfsRoot)
        return (base == "/" ? "" : base) + "/" + relative
    }

    /// `/var/lib/vfio-warden`, or `D/var/lib/vfio-warden` beside a tree.
    static func stateDirectory(for sysfsRoot: String) -> String {
        isHost(sysfsRoot) ? hostStateDirectory : beside(sysfsRoot, "var/lib/vfio-warden")
    }

    /// `/var/lib/vfio-warden/journal`, or `D/var/lib/vfio-warden/journal` beside a tree.
    static func journalDirectory(for sysfsRoot: String) -> String {
        stateDirectory(for: sysfsRoot) + "/journal"
    }

    /// `/run/vfio-warden`, or `D/run/vfio-warden` beside a tree.
    static func runDirectory(for sysfsRoot: String) -> String {
        isHost(sysfsRoot) ? hostRunDirectory : beside(sysfsRoot, "run/vfio-warden")
    }

    /// The directory that plays `/proc`, and a warning when host use cannot be judged from it.
    struct Proc {
        var path: String
        var warning: String?
    }

    /// `--proc-root` when given; `/proc` for the machine's own `/sys`; for any other root the `proc/` a snapshot
    /// carries beside its tree, never the machine's own `/proc` (it says nothing about the tree's host). Without one,
    /// host use is unknown: the path given does not exist, so every disk controller counts as in use (an unreadable
    /// mountinfo), and the warning says how to pass `--proc-root`.
    static func proc(given: String?, sysfsRoot: String) -> Proc {
        if let given { return Proc(path: given) }
        if isHost(sysfsRoot) { return Proc(path: hostProc) }
        let candidate = beside(sysfsRoot, "proc")
        if SysfsRoot(candidate).existsWithoutFollowing("") { return Proc(path: candidate) }
        return Proc(path: candidate, warning: """
            no --proc-root given and no proc/ beside --sysfs-root \(sysfsRoot) (looked for \(candidate)): what that \
            host uses is unknown, so every disk controller counts as in use; the machine's own /proc is never used \
            for a tree. Pass --proc-root DIR with a copy of that host's /proc files (self/mountinfo, swaps, \
            net/route, net/ipv6_route, net/if_inet6, net/fib_trie), or put them in \(candidate)
            """)
    }
}
