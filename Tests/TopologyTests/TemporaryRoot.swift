#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs

/// A fresh directory under the system temporary folder that plays `/sys` for one test, removed afterwards.
/// Tests never read or write the machine's real `/sys`.
func withTemporaryRoot<T>(_ body: (SysfsRoot) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-test-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(SysfsRoot(path))
}
