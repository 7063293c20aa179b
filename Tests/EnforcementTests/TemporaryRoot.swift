#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs

/// A fresh directory holding `sys/` (the sysfs root) and room for `dev/`, removed after the test.
func withTemporaryHost<T>(_ body: (SysfsRoot) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-enforcement-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path + "/sys", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(SysfsRoot(path + "/sys"))
}
