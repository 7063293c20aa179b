#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import SystemPackage
import Topology

/// Recorded events, one JSON object per line, as an event source instead of the udev monitor (for tests,
/// benchmarks and reproducing what a host saw).
///
/// A line is a ``DeviceEvent`` (`{"action":"bind","address":"0000:03:01.0","driver":"vfio-pci","seqnum":12}`;
/// other keys such as `changes` are ignored, so the lines `watch --json` prints replay as they are) or an
/// overflow marker (`{"overflow":true}`). Blank lines and lines starting with `#` are skipped.
public enum EventReplay {
    /// Decodes one line; `nil` for a blank or comment line.
    public static func decode(line: String, number: Int) throws(ReplayError) -> MonitorEvent? {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        let trimmed = String(line.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
        let data = Data(trimmed.utf8)
        let decoder = JSONDecoder()
        do {
            if try decoder.decode(OverflowMarker.self, from: data).overflow == true { return .overflow }
            return .device(try decoder.decode(DeviceEvent.self, from: data))
        } catch {
            throw ReplayError(line: number, text: trimmed, problem: describe(error))
        }
    }

    /// Reads the file at `path` (`-` for standard input) on a thread of its own, decoding each line as it
    /// arrives, so that `watch --json | watch --replay -` follows live. The sequence ends at end of file, or
    /// with a ``ReplayError`` or ``UdevError`` (for `open(2)` or `read(2)`).
    ///
    /// The reading thread is detached: a `read(2)` blocked on a pipe cannot be interrupted, so after the
    /// consumer stops, the thread ends at its next line or at end of file.
    public static func events(path: String) throws(UdevError) -> AsyncThrowingStream<MonitorEvent, any Error> {
        let fd: Int32
        if path == "-" {
            fd = STDIN_FILENO
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw UdevError(operation: "open", what: path, errno: Errno(rawValue: errno)) }
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: MonitorEvent.self, throwing: (any Error).self)
        let shared = CancelFlag()
        continuation.onTermination = { _ in shared.flag.store(true, ordering: .relaxed) }
        let name = path
        let thread: pthread_t
        do {
            thread = try startThread(named: "event-replay") {
                readLines(fd: fd, name: name, cancel: shared, continuation: continuation)
                if fd != STDIN_FILENO { close(fd) }
            }
        } catch {
            if fd != STDIN_FILENO { close(fd) }
            throw error
        }
        pthread_detach(thread)
        return stream
    }

    final class CancelFlag: Sendable {
        let flag = Atomic<Bool>(false)
    }

    static func readLines(fd: Int32, name: String, cancel: CancelFlag,
                          continuation: AsyncThrowingStream<MonitorEvent, any Error>.Continuation) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var lineNumber = 0
        func emit(_ bytes: ArraySlice<UInt8>) -> Bool {
            lineNumber += 1
            do {
                if let event = try decode(line: String(decoding: bytes, as: UTF8.self), number: lineNumber) {
                    continuation.yield(event)
                }
                return true
            } catch {
                continuation.finish(throwing: error)
                return false
            }
        }
        while !cancel.flag.load(ordering: .relaxed) {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                continuation.finish(throwing: UdevError(operation: "read", what: name, errno: Errno(rawValue: errno)))
                return
            }
            if count == 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                guard emit(pending[start..<newline]) else { return }
                start = newline + 1
            }
            pending.removeSubrange(pending.startIndex..<start)
        }
        if !pending.isEmpty, !cancel.flag.load(ordering: .relaxed) {
            guard emit(pending[...]) else { return }
        }
        continuation.finish()
    }

    struct OverflowMarker: Decodable {
        var overflow: Bool?
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription + path(context.codingPath)
        case DecodingError.keyNotFound(let key, _):
            return "no '\(key.stringValue)' key"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return context.debugDescription + path(context.codingPath)
        default:
            return "\(error)"
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "" : " (at '\(codingPath.map(\.stringValue).joined(separator: "."))')"
    }
}

/// A line of a replay file that is neither a device event nor an overflow marker.
public struct ReplayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    public var text: String
    public var problem: String

    public var description: String {
        "replay line \(line): \(problem): \(text.count > 200 ? String(text.prefix(200)) + "…" : text)"
    }
}
