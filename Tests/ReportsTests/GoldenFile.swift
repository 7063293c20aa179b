import Foundation
import Testing

/// Compares output with `Tests/ReportsTests/Golden/NAME`. Run with `VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test`
/// to write the current output as the new golden file (then review the diff before committing).
func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation, filePath: String = #filePath) throws {
    let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    let file = directory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["VFIO_WARDEN_REGENERATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try actual.write(to: file, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record("golden file \(name) is missing; run VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "output differs from Golden/\(name)", sourceLocation: sourceLocation)
}

/// A fresh temporary directory that plays `/sys` for one test.
func withTemporaryRoot<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-reports-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
