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
/// The path is resolved (`realpath(3)`), then each component is `lstat(2)`ed from `/` down. A component is
/// untrusted when its owner is not root, or its mode lets the group or others write to it. A world-writable
/// directory with the sticky bit owned by root (`/tmp`, mode 1777) is accepted: nobody but root can rename or
/// remove the root-owned entry below it. Only modes and owners are read (`access(2)` would answer for the caller,
/// and root may write anything).
public enum StrictModes {
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
        var problems: [Problem] = []
        for component in components {
            var info = stat()
            guard lstat(component, &info) == 0 else {
                throw SysfsError(operation: "lstat", path: component, errno: Errno(rawValue: errno))
            }
            let mode = UInt32(info.st_mode) & 0o7777
            let isDirectory = UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR)
            let owner = UInt32(info.st_uid)
            var reasons: [String] = []
            if owner != 0 { reasons.append("owned by uid \(owner), not root") }
            let stickyRootDirectory = isDirectory && mode & 0o1000 != 0 && owner == 0
            if mode & 0o002 != 0 && !(stickyRootDirectory && component != full) { reasons.append("writable by others") }
            if mode & 0o020 != 0 && !(stickyRootDirectory && component != full) { reasons.append("writable by its group") }
            if !reasons.isEmpty {
                problems.append(Problem(path: component, mode: mode, owner: owner, reason: reasons.joined(separator: " and ")))
            }
        }
        return problems
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
