import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory that plays the role of `/sys`: the real one on a host, a temporary tree in tests,
/// a `snapshot` a user sent. Every path this module touches is relative to it; nothing names `/sys` directly.
public struct SysfsRoot: Sendable, Hashable, CustomStringConvertible {
    /// The root directory, without a trailing slash (`/sys`, `/tmp/tree`).
    public let path: String

    public init(_ path: String) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
    }

    /// The running kernel's sysfs. Only the agent on a real host uses it; tests never do.
    public static let system = SysfsRoot("/sys")

    public var description: String { path }

    /// `root/relative`.
    public func absolute(_ relative: String) -> String {
        relative.isEmpty ? path : path + "/" + relative
    }

    /// Reads a whole attribute file (`read(2)` until EOF) and returns it without the trailing newline.
    public func read(_ relative: String) throws(SysfsError) -> String {
        let bytes = try readBytes(relative)
        var end = bytes.count
        while end > 0 && (bytes[end - 1] == 0x0A || bytes[end - 1] == 0) { end -= 1 }
        return String(decoding: bytes[0..<end], as: UTF8.self)
    }

    /// Reads a whole file as bytes (a sysfs attribute is at most a page; `config` is 256 to 4096 bytes).
    public func readBytes(_ relative: String) throws(SysfsError) -> [UInt8] {
        let full = absolute(relative)
        let fd = full.withCString { Glibc.open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SysfsError(operation: "open", path: full, errno: Errno(rawValue: errno)) }
        defer { _ = Glibc.close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SysfsError(operation: "read", path: full, errno: Errno(rawValue: errno))
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// The target of a symbolic link (`readlink(2)`), e.g. `../../../bus/pci/drivers/e1000` for `driver`.
    public func readLink(_ relative: String) throws(SysfsError) -> String {
        let full = absolute(relative)
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX)) { buffer throws(SysfsError) -> String in
            let count = full.withCString { readlink($0, buffer.baseAddress!, buffer.count) }
            guard count >= 0 else { throw SysfsError(operation: "readlink", path: full, errno: Errno(rawValue: errno)) }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count), as: UTF8.self)
        }
    }

    /// The target of a symbolic link, or `nil` when there is none (`ENOENT`), without building an error for
    /// that case: a uevent for a device that is already gone is common.
    public func readLinkIfPresent(_ relative: String) throws(SysfsError) -> String? {
        let full = absolute(relative)
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX)) { buffer throws(SysfsError) -> String? in
            let count = full.withCString { readlink($0, buffer.baseAddress!, buffer.count) }
            guard count >= 0 else {
                if errno == ENOENT { return nil }
                throw SysfsError(operation: "readlink", path: full, errno: Errno(rawValue: errno))
            }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count), as: UTF8.self)
        }
    }

    /// The last path component of a link's target (`e1000` for `driver`, `7` for `iommu_group`),
    /// or `nil` when there is no such link (`ENOENT`).
    public func linkName(_ relative: String) throws(SysfsError) -> String? {
        do {
            let target = try readLink(relative)
            return target.split(separator: "/").last.map(String.init)
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
    }

    /// The entries of a directory (`opendir(3)`/`readdir(3)`), without `.` and `..`, in the order the kernel gives.
    public func list(_ relative: String) throws(SysfsError) -> [String] {
        let full = absolute(relative)
        guard let dir = opendir(full) else {
            throw SysfsError(operation: "opendir", path: full, errno: Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether the path exists, following links (`stat(2)`): a dangling link does not exist.
    public func exists(_ relative: String) -> Bool {
        var info = stat()
        return stat(absolute(relative), &info) == 0
    }

    /// Whether the path exists as a link or file, without following it (`lstat(2)`).
    public func existsWithoutFollowing(_ relative: String) -> Bool {
        var info = stat()
        return lstat(absolute(relative), &info) == 0
    }
}

/// Something that performs the writes the agent makes to sysfs attributes (`driver_override`, `unbind`,
/// `drivers_probe`, `sriov_numvfs`...). On a host that is ``SysfsRoot`` itself; in tests, the simulated kernel.
public protocol SysfsAttributeWriter: Sendable {
    /// Writes `value` to the attribute at `relative` in one `write(2)`, as the kernel expects.
    func write(_ value: String, to relative: String) throws(SysfsError)
}

extension SysfsRoot: SysfsAttributeWriter {
    /// Opens the existing attribute write-only (never creating it) and writes `value` in one call.
    public func write(_ value: String, to relative: String) throws(SysfsError) {
        let full = absolute(relative)
        let fd = full.withCString { Glibc.open($0, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SysfsError(operation: "open", path: full, errno: Errno(rawValue: errno)) }
        defer { _ = Glibc.close(fd) }
        var bytes = Array(value.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written >= 0 else { throw SysfsError(operation: "write", path: full, errno: Errno(rawValue: errno)) }
    }
}
