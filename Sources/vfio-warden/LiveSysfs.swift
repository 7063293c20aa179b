#if canImport(Glibc)
import Glibc
#endif
import Sysfs
import SystemPackage
import Topology

/// Whether a root is a live sysfs, which the kernel answers, or a static tree of regular files (a snapshot,
/// `example-tree`), where a write is just a write into a file: nothing probes, nothing binds, `driver_override`
/// keeps whatever was there after the bytes written, and every verification times out.
enum LiveSysfs {
    /// Whether `path` lies on a sysfs mount: the file system type of the deepest mount point above it, in this
    /// machine's `/proc/self/mountinfo` (`statfs(2)`'s `SYSFS_MAGIC` is not reachable from Swift's Glibc module).
    /// `false` when it cannot be told.
    static func isSysfs(_ path: String) -> Bool {
        guard let resolved = realpath(path, nil) else { return false }
        let real = String(cString: resolved)
        free(resolved)
        guard let mountinfo = try? SysfsRoot("/proc").read("self/mountinfo") else { return false }
        return fileSystemType(of: real, mountinfo: mountinfo) == "sysfs"
    }

    /// The type of the mount that holds `path` (resolved), per `mountinfo` (``ProcFiles/mounts(_:)``): the deepest
    /// mount point above it; the last of equally deep ones wins (mounted over).
    static func fileSystemType(of path: String, mountinfo: String) -> String? {
        var best: (depth: Int, type: String)?
        for mount in ProcFiles.mounts(mountinfo) {
            let point = mount.mountPoint
            guard point == "/" || path == point || path.hasPrefix(point + "/") else { continue }
            let depth = point == "/" ? 0 : point.split(separator: "/").count
            if best == nil || depth >= best!.depth { best = (depth, mount.fsType) }
        }
        return best?.type
    }

    /// Refuses to write `root` unless it is a live sysfs: for `assign`, `release` and the agent's writes.
    static func requireWritable(_ root: SysfsRoot, given: String, command: String) throws {
        guard !isSysfs(root.path) else { return }
        throw CommandFailure(refusal(given: given, command: command))
    }

    static func refusal(given: String, command: String) -> String {
        "\(command): --sysfs-root \(given) is not a live sysfs (a snapshot or a written tree: regular files where "
            + "sysfs has attributes, and no kernel to bind drivers), so nothing was written; to try \(command) on "
            + "a tree, use `vfio-warden simulate --sysfs-root \(given)` (the real engine on a simulated kernel over "
            + "a copy), or --simulated-kernel (tests only: writes the tree's files as a kernel would)"
    }
}

/// The agent's writer on a root that is not a live sysfs: every write is refused (the agent may still watch and
/// report on a snapshot), with the same advice as ``LiveSysfs/refusal(given:command:)``.
struct StaticTreeWriter: SysfsAttributeWriter {
    let root: SysfsRoot
    let given: String

    func write(_ value: String, to relative: String) throws(SysfsError) {
        throw SysfsError(operation: "write (refused: " + LiveSysfs.refusal(given: given, command: "agent") + ")",
                         path: root.absolute(relative), errno: Errno(rawValue: EROFS))
    }
}
