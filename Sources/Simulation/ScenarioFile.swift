#if canImport(Glibc)
import Glibc
#endif

/// Reads a scenario file whole, with `open(2)` and `read(2)`, so that a failure names the file, the call and the errno
/// (Foundation's `String(contentsOfFile:)` says only "The operation could not be completed").
public enum ScenarioFile {
    public static func read(_ path: String) throws(ScenarioFileError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ScenarioFileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ScenarioFileError(operation: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A scenario file that cannot be read: the call, the file and the errno.
public struct ScenarioFileError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
