#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Replaces a file whole: writes `PATH.tmp`, syncs it, then renames it over `PATH`, so a reader (udev,
/// node-exporter's textfile collector) never sees half a file.
enum AtomicFile {
    static func write(_ text: String, to path: String, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]) throws {
        let temporary = path + ".tmp"
        do {
            let fd = try FileDescriptor.open(FilePath(temporary), .writeOnly,
                                             options: [.create, .truncate], permissions: permissions)
            try fd.closeAfter {
                _ = try Array(text.utf8).withUnsafeBytes { try fd.writeAll($0) }
                guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
            }
            guard rename(temporary, path) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            _ = unlink(temporary)
            throw CommandFailure("cannot write \(path): \(error)")
        }
    }
}
