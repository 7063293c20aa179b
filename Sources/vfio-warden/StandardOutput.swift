#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

/// Writes rendered output to standard output in one go (`write(2)` until done), so large listings are not
/// split into many small writes.
enum StandardOutput {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            _ = try? FileDescriptor.standardOutput.writeAll(buffer)
        }
        bytes.removeAll()
    }

    static func write(_ data: Data) {
        data.withUnsafeBytes { buffer in
            _ = try? FileDescriptor.standardOutput.writeAll(buffer)
        }
    }
}

/// Warnings and errors that are not the command's output.
enum StandardError {
    static func write(_ text: String) {
        Array(text.utf8).withUnsafeBytes { buffer in
            _ = try? FileDescriptor.standardError.writeAll(buffer)
        }
    }
}
