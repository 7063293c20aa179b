#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Sysfs

/// The assignments in force, kept in `STATE_DIR/assignments.json` so that `release` (and a restarted agent)
/// knows each member's original driver. Devices are keyed by address and vendor:device, never by group number.
///
/// Saved atomically: written to a temporary file, `fsync(2)`ed, renamed over the old one, and the directory
/// `fsync`ed, so a crash leaves either the old or the new table, never a torn one.
public struct AssignmentStore: Sendable {
    public let directory: String
    public var path: String { "\(directory)/assignments.json" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Refuses a state directory that anyone but its owner (root, or the user running us) can write: whoever
    /// can write `assignments.json` decides what the agent isolates and what it gives back.
    public func checkDirectory() throws(StoreError) {
        do {
            try PrivateDirectory.check(directory)
        } catch {
            throw StoreError(message: "state directory \(error)")
        }
    }

    /// The saved table; an empty one when nothing was ever saved.
    public func load() throws(StoreError) -> AssignmentTable {
        if FileManager.default.fileExists(atPath: directory) { try checkDirectory() }
        let root = SysfsRoot(directory)
        let bytes: [UInt8]
        do {
            bytes = try root.readBytes("assignments.json")
        } catch where error.errno == .noSuchFileOrDirectory {
            return AssignmentTable()
        } catch {
            throw StoreError(message: "cannot read \(path): \(error)")
        }
        do {
            return try JSONDecoder().decode(StoredTable.self, from: Data(bytes)).table
        } catch {
            throw StoreError(message: "\(path) is not a valid assignment table (\(error)); it was left as it is")
        }
    }

    /// Replaces the saved table with `table`, atomically and durably.
    public func save(_ table: AssignmentTable) throws(StoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(StoredTable(version: 1, table: table))
        } catch {
            throw StoreError(message: "cannot encode the assignment table: \(error)")
        }
        do {
            try PrivateDirectory.make(directory, mode: 0o755)
        } catch {
            throw StoreError(message: "cannot create \(directory): \(error)")
        }
        try checkDirectory()
        let temporary = "\(path).tmp.\(getpid())"
        do {
            let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            try fd.closeAfter {
                _ = try data.withUnsafeBytes { try fd.writeAll($0) }
                guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
            }
            guard rename(temporary, path) == 0 else { throw Errno(rawValue: errno) }
            let directoryFD = try FileDescriptor.open(directory, .readOnly, options: [.directory])
            try directoryFD.closeAfter { _ = fsync(directoryFD.rawValue) }
        } catch {
            unlink(temporary)
            throw StoreError(message: "cannot save \(path): \(error)")
        }
    }

    struct StoredTable: Codable {
        var version: Int
        var table: AssignmentTable
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
