#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// The files of a journal directory:
/// - `journal.jsonl`, the file being written;
/// - `journal.1.jsonl`, `journal.2.jsonl`, ... rotated files, 1 the newest;
/// - `journal.lock`, held with `flock(2)` by the one writer;
/// - `journal.head`, the last committed seq and hash (detects a truncated end);
/// - `journal.torn.N`, torn tails set aside at start.
public struct JournalDirectory: Sendable, Equatable {
    public var path: String

    public init(_ path: String) { self.path = path }

    /// The path with symbolic links and `..` resolved (`realpath(3)`); the path as given when that fails.
    public var resolvedPath: String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static let currentName = "journal.jsonl"
    public var current: String { path + "/" + Self.currentName }
    public var lockFile: String { path + "/journal.lock" }
    public var headFile: String { path + "/journal.head" }
    public func rotated(_ n: Int) -> String { path + "/journal.\(n).jsonl" }

    /// The numbers of the rotated files present, ascending (1 is the newest).
    public func rotatedNumbers() throws(JournalError) -> [Int] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw JournalError(operation: "list", path: path, errno: Errno(rawValue: ENOENT),
                               detail: "cannot read the journal directory")
        }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("journal."), name.hasSuffix(".jsonl") else { return nil }
            return Int(name.dropFirst("journal.".count).dropLast(".jsonl".count))
        }.sorted()
    }

    /// Every journal file that exists, oldest first (the highest rotation number first, `journal.jsonl` last).
    public func filesOldestFirst() throws(JournalError) -> [String] {
        var files = try rotatedNumbers().reversed().map { rotated($0) }
        if FileManager.default.fileExists(atPath: current) { files.append(current) }
        return files
    }

    /// The next free `journal.torn.N`.
    func nextTornPath() -> String {
        var n = 1
        while FileManager.default.fileExists(atPath: path + "/journal.torn.\(n)") { n += 1 }
        return path + "/journal.torn.\(n)"
    }

    /// The last committed position as the writer last noted it in `journal.head`, when readable.
    public func readHead() -> JournalHead? {
        guard let data = FileManager.default.contents(atPath: headFile) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines.union(.controlCharacters))
        return try? JSONDecoder().decode(JournalHead.self, from: Data(text.utf8))
    }
}

/// What `journal.head` holds: the last record the writer made durable.
public struct JournalHead: Codable, Sendable, Equatable {
    /// The last durable record.
    public var seq: UInt64
    public var hash: String
    /// The first record that should still be present (1 until retention deletes a file).
    public var first: UInt64?

    public init(seq: UInt64, hash: String, first: UInt64? = nil) {
        self.seq = seq; self.hash = hash; self.first = first
    }
}

/// Thin wrappers over the system calls swift-system does not cover, throwing `JournalError`.
enum Sys {
    static func fsync(_ fd: FileDescriptor, path: String) throws(JournalError) {
        if Glibc.fsync(fd.rawValue) != 0 {
            throw JournalError(operation: "fsync", path: path, errno: Errno(rawValue: Glibc.errno))
        }
    }

    static func fsyncDirectory(_ path: String) throws(JournalError) {
        let fd = try open(path, .readOnly, options: [.directory])
        defer { try? fd.close() }
        try fsync(fd, path: path)
    }

    static func open(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
                     permissions: FilePermissions? = nil) throws(JournalError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec),
                                           permissions: permissions)
        } catch {
            throw JournalError(operation: "open", path: path, errno: error as? Errno)
        }
    }

    /// Opens an existing file, refusing a symbolic link (`O_NOFOLLOW`), or creates it (`O_CREAT|O_EXCL`, also
    /// refusing a link planted meanwhile). The caller `fsync`s the directory after creating.
    static func openOrCreate(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [])
        throws(JournalError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), mode, options: options.union([.closeOnExec, .noFollow]))
        } catch Errno.noSuchFileOrDirectory {
            do {
                return try FileDescriptor.open(FilePath(path), mode, options: options.union([.closeOnExec, .noFollow, .create, .exclusiveCreate]),
                                               permissions: [.ownerReadWrite, .groupRead])
            } catch {
                throw JournalError(operation: "create", path: path, errno: error as? Errno, detail: Self.linkDetail(error))
            }
        } catch {
            throw JournalError(operation: "open", path: path, errno: error as? Errno, detail: Self.linkDetail(error))
        }
    }

    /// `O_NOFOLLOW` on a symbolic link fails with `ELOOP`; `O_EXCL` on one with `EEXIST`.
    static func linkDetail(_ error: any Error) -> String? {
        switch error as? Errno {
        case .tooManySymbolicLinkLevels?, .fileExists?: "a symbolic link (or a file created meanwhile) is there; the journal never follows one"
        default: nil
        }
    }

    static func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8], path: String) throws(JournalError) {
        do {
            _ = try fd.writeAll(bytes)
        } catch {
            throw JournalError(operation: "write", path: path, errno: error as? Errno)
        }
    }

    static func truncate(_ fd: FileDescriptor, to size: Int64, path: String) throws(JournalError) {
        if ftruncate(fd.rawValue, off_t(size)) != 0 {
            throw JournalError(operation: "ftruncate", path: path, errno: Errno(rawValue: Glibc.errno))
        }
    }

    static func rename(_ from: String, _ to: String) throws(JournalError) {
        if Glibc.rename(from, to) != 0 {
            throw JournalError(operation: "rename", path: "\(from) -> \(to)", errno: Errno(rawValue: Glibc.errno))
        }
    }

    static func unlink(_ path: String) throws(JournalError) {
        if Glibc.unlink(path) != 0 && Glibc.errno != ENOENT {
            throw JournalError(operation: "unlink", path: path, errno: Errno(rawValue: Glibc.errno))
        }
    }

    static func size(_ fd: FileDescriptor, path: String) throws(JournalError) -> Int64 {
        var st = stat()
        if fstat(fd.rawValue, &st) != 0 {
            throw JournalError(operation: "fstat", path: path, errno: Errno(rawValue: Glibc.errno))
        }
        return Int64(st.st_size)
    }

    /// The inode of the file at `path`, nil when there is none.
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return Glibc.lstat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    static func inode(_ fd: FileDescriptor) -> UInt64? {
        var st = stat()
        return fstat(fd.rawValue, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// Reads a whole file.
    static func readAll(_ path: String, from offset: Int64 = 0) throws(JournalError) -> [UInt8] {
        let fd = try open(path, .readOnly)
        defer { try? fd.close() }
        if offset > 0 {
            do { _ = try fd.seek(offset: offset, from: .start) } catch {
                throw JournalError(operation: "seek", path: path, errno: error as? Errno)
            }
        }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch {
                throw JournalError(operation: "read", path: path, errno: error as? Errno)
            }
            if n == 0 { break }
            result += chunk[..<n]
        }
        return result
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `/proc/sys/kernel/random/boot_id`, nil when unreadable.
    static func bootID() -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id") else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    static func clock(_ id: clockid_t) -> timespec {
        var ts = timespec()
        clock_gettime(id, &ts)
        return ts
    }

    static func realtimeMicros() -> Int64 {
        let ts = clock(CLOCK_REALTIME)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    static func monotonicNanos() -> UInt64 {
        let ts = clock(CLOCK_MONOTONIC)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
