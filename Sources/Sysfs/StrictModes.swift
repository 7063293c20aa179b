import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a file that root acts on (the policy, the journal and state directories, the hook scripts) could have
/// been written by someone other than root, as sshd's `StrictModes` asks of `authorized_keys`: the file and every
/// directory above it must be owned by root and writable by nobody else.
///
/// The path is resolved (`realpath(3)`), then each component is `lstat(2)`ed from `/` down (``entries(of:)``).
/// A component is untrusted when its owner is not root, or its mode lets the group or others write to it
/// (``Entry/faults(trusting:)``). A world-writable directory with the sticky bit owned by root (`/tmp`, mode 1777)
/// is accepted above the path: nobody but root can rename or remove the root-owned entry below it. Only modes and
/// owners are read (`access(2)` would answer for the caller, and root may write anything). ``PrivateDirectory``
/// judges the journal and state directories with the same walk.
public enum StrictModes {
    /// One component of a resolved path as `lstat(2)` shows it.
    public struct Entry: Sendable, Hashable {
        /// The component (the path itself or a directory above it), resolved.
        public var path: String
        /// `st_mode`: the file type, permission bits and set-id/sticky bits.
        public var mode: UInt32
        public var owner: UInt32
        /// Whether this is the path itself rather than a directory above it.
        public var isTarget: Bool

        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }

        /// Who besides a trusted owner could change it: `foreignOwner` when the owner is not in `trusted`;
        /// `writableByOthers`, `writableByGroup` when the mode lets them write (never for a root-owned sticky
        /// directory above the path, like `/tmp`). All `false`: only a trusted owner (and root) can.
        public func faults(trusting trusted: Set<UInt32>) -> (foreignOwner: Bool, writableByOthers: Bool, writableByGroup: Bool) {
            let stickyRootDirectory = !isTarget && isDirectory && mode & UInt32(S_ISVTX) != 0 && owner == 0
            return (!trusted.contains(owner), mode & 0o002 != 0 && !stickyRootDirectory, mode & 0o020 != 0 && !stickyRootDirectory)
        }
    }

    /// `path` resolved (`realpath(3)`) and every component `lstat(2)`ed, from `/` down to the path itself. A path
    /// that cannot be resolved or a component that cannot be `lstat`ed is an error naming it.
    public static func entries(of path: String) throws(SysfsError) -> [Entry] {
        guard let resolved = realpath(path, nil) else {
            throw SysfsError(operation: "realpath", path: path, errno: Errno(rawValue: errno))
        }
        let full = String(cString: resolved)
        free(resolved)
        var components: [String] = ["/"]
        var prefix = ""
        for name in full.split(separator: "/") {
            prefix += "/" + name
            components.append(prefix)
        }
        var entries: [Entry] = []
        for component in components {
            var info = stat()
            guard lstat(component, &info) == 0 else {
                throw SysfsError(operation: "lstat", path: component, errno: Errno(rawValue: errno))
            }
            entries.append(Entry(path: component, mode: UInt32(info.st_mode), owner: UInt32(info.st_uid),
                                 isTarget: component == full))
        }
        return entries
    }

    /// One untrusted component: its path, mode and owner, and why it is untrusted.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The component (the file itself or a directory above it).
        public var path: String
        /// Permission bits and the set-id/sticky bits (`0o666`).
        public var mode: UInt32
        public var owner: UInt32
        /// `writable by others`, `writable by its group`, `owned by uid 1000, not root`.
        public var reason: String

        public var description: String {
            "\(path) (mode \(octal(mode)), owner uid \(owner)) is \(reason)"
        }
    }

    /// The problems of `path` and the directories above it, from `/` down; empty when root alone can change it.
    /// A path that cannot be resolved or `lstat`ed is an error naming it.
    public static func problems(of path: String) throws(SysfsError) -> [Problem] {
        try entries(of: path).compactMap { entry in
            let faults = entry.faults(trusting: [0])
            var reasons: [String] = []
            if faults.foreignOwner { reasons.append("owned by uid \(entry.owner), not root") }
            if faults.writableByOthers { reasons.append("writable by others") }
            if faults.writableByGroup { reasons.append("writable by its group") }
            guard !reasons.isEmpty else { return nil }
            return Problem(path: entry.path, mode: entry.mode & 0o7777, owner: entry.owner,
                           reason: reasons.joined(separator: " and "))
        }
    }

    /// The refusal or warning for `path`, or `nil` when it is trusted: `the policy /etc/x/policy.toml is not
    /// trusted: /etc/x/policy.toml (mode 0666, owner uid 0) is writable by others; make it and the directories
    /// above it owned by root and writable by root only (chmod go-w)`.
    public static func check(_ path: String, what: String) -> String? {
        let found: [Problem]
        do {
            found = try problems(of: path)
        } catch {
            return "\(what) \(path) cannot be checked: \(error)"
        }
        guard !found.isEmpty else { return nil }
        return "\(what) \(path) is not trusted: " + found.map(\.description).joined(separator: "; ")
            + "; anyone but root could change it: make it and every directory above it owned by root and writable by root only (chown root; chmod go-w)"
    }
}

private func octal(_ mode: UInt32) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
