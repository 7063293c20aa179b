#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// The agent's own directories (the journal, the state): created durably, and refused when someone else could
/// write into them (and so forge the journal or the assignment table the root agent trusts).
public enum PrivateDirectory {
    /// Why a directory may not be used: the path, its mode and owner, in words.
    public struct Unsafe: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var mode: UInt32
        public var owner: UInt32
        public var reason: String
        public var description: String {
            "\(path) (mode \(String(mode & 0o7777, radix: 8).leftPadded(4)), owner uid \(owner)) \(reason): refusing to use it; "
                + "chmod go-w (and chown) it"
        }
    }

    /// Creates `path` and any missing directory above it with `mode` (`mkdir(2)`), `fsync(2)`ing the parent of
    /// each one made, so a crash right after cannot lose the directory the first durable record went into.
    public static func make(_ path: String, mode: mode_t = 0o750) throws(SysfsError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + component
            if Glibc.mkdir(prefix, mode) == 0 {
                try fsyncDirectory(parent)
            } else if Glibc.errno != EEXIST {
                throw SysfsError(operation: "mkdir", path: prefix, errno: Errno(rawValue: Glibc.errno))
            }
        }
    }

    /// `fsync(2)` of a directory: its entries (a file or directory created or renamed in it) are durable.
    public static func fsyncDirectory(_ path: String) throws(SysfsError) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SysfsError(operation: "open", path: path, errno: Errno(rawValue: Glibc.errno)) }
        defer { Glibc.close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw SysfsError(operation: "fsync", path: path, errno: Errno(rawValue: Glibc.errno)) }
    }

    /// Refuses `path` when it is not a directory owned by root or by the user running us, or when its group or
    /// others may write it; the same for every directory above it, except a root-owned sticky one (`/tmp`),
    /// where nobody else can rename or remove what is ours. Like sshd's StrictModes, and with its walk
    /// (``StrictModes/entries(of:)``): the path is resolved first, so a link cannot hide the directories that hold
    /// its target. A path not made yet is judged by the nearest directory above it that exists. The innermost
    /// problem is the one reported.
    public static func check(_ path: String) throws(Unsafe) {
        var existing = path
        var entries: [StrictModes.Entry] = []
        while true {
            do {
                entries = try StrictModes.entries(of: existing)
                break
            } catch {
                guard error.errno == .noSuchFileOrDirectory, let slash = existing.lastIndex(of: "/") else { return }
                existing = slash == existing.startIndex ? "/" : String(existing[..<slash])
                if existing.isEmpty { existing = "." }
            }
        }
        let trusted: Set<UInt32> = [0, UInt32(geteuid())]
        for var entry in entries.reversed() {
            let isPath = entry.isTarget && existing == path
            entry.isTarget = isPath  // the nearest existing directory stands above a path not made yet
            if isPath && !entry.isDirectory {
                throw Unsafe(path: entry.path, mode: entry.mode, owner: entry.owner, reason: "is not a directory")
            }
            let faults = entry.faults(trusting: trusted)
            if faults.foreignOwner {
                throw Unsafe(path: entry.path, mode: entry.mode, owner: entry.owner, reason: "is owned by another user")
            }
            if faults.writableByOthers || faults.writableByGroup {
                let who = faults.writableByOthers ? "anyone" : "its group"
                throw Unsafe(path: entry.path, mode: entry.mode, owner: entry.owner,
                             reason: isPath ? "can be written by \(who)" : "can be written by \(who), and \(path) is inside it")
            }
        }
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
