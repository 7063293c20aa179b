import SystemPackage

/// One line of a journal file, as read.
public struct JournalLine: Sendable, Equatable {
    /// The file's full path.
    public var file: String
    /// From 1.
    public var lineNumber: Int
    /// Byte offset of the line's start in the file.
    public var offset: Int64
    /// The line, without its newline.
    public var bytes: [UInt8]
    /// False for a last line with no newline: a write that did not finish.
    public var terminated: Bool

    /// `journal.jsonl:12`.
    public var location: String { "\(file.split(separator: "/").last.map(String.init) ?? file):\(lineNumber)" }
}

/// What reading the journal gives, line by line.
public enum JournalItem: Sendable, Equatable {
    /// A record whose content matches its hash.
    case record(JournalRecord, JournalLine)
    /// A record edited after it was written: its content does not match its hash.
    case edited(JournalRecord, JournalLine)
    /// The last line of the newest file is incomplete or unreadable: a write cut short by a crash.
    case tornTail(JournalLine, reason: String)
    /// A line that is not a record, anywhere but at the torn tail.
    case malformed(JournalLine, reason: String)
}

/// Streams the lines of journal files in 64 KiB reads; never holds more than one line beyond the buffer.
public struct JournalReader: Sendable {
    public var directory: JournalDirectory

    public init(directory: String) { self.directory = JournalDirectory(directory) }

    /// Every item of every file, oldest first. `body` returns false to stop.
    public func forEachItem(_ body: (JournalItem) throws -> Bool) throws {
        let files = try directory.filesOldestFirst()
        for (index, file) in files.enumerated() {
            let isNewest = index == files.count - 1
            var keepGoing = true
            try Self.forEachLine(in: file) { line, isLast in
                keepGoing = try body(Self.classify(line, atTail: isNewest && isLast))
                return keepGoing
            }
            if !keepGoing { return }
        }
    }

    /// Every readable record, oldest first (torn, edited and malformed lines are skipped; `JournalVerifier` names them).
    public func records() throws -> [JournalRecord] {
        var result: [JournalRecord] = []
        try forEachItem { item in
            switch item {
            case .record(let r, _), .edited(let r, _): result.append(r)
            default: break
            }
            return true
        }
        return result
    }

    static func classify(_ line: JournalLine, atTail: Bool) -> JournalItem {
        if !line.terminated {
            return .tornTail(line, reason: "the last line has no newline (\(line.bytes.count) bytes): a write cut short")
        }
        switch RecordCodec.check(line.bytes) {
        case .valid(let record): return .record(record, line)
        case .hashMismatch(let record, _): return .edited(record, line)
        case .malformed(let reason):
            return atTail ? .tornTail(line, reason: "the last line is not a record: \(reason)") : .malformed(line, reason: reason)
        }
    }

    /// Calls `body` with each line of `path` and whether it is the file's last; `body` returns false to stop.
    public static func forEachLine(in path: String, from start: Int64 = 0, firstLineNumber: Int = 1,
                                   _ body: (JournalLine, _ isLast: Bool) throws -> Bool) throws {
        let fd = try Sys.open(path, .readOnly)
        defer { try? fd.close() }
        if start > 0 {
            do { _ = try fd.seek(offset: start, from: .start) } catch {
                throw JournalError(operation: "seek", path: path, errno: error as? Errno)
            }
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        var pendingOffset = start
        var offset = start
        var lineNumber = firstLineNumber
        var held: JournalLine?   // one line held back so we know whether it is the last
        func emit(_ line: JournalLine) throws -> Bool {
            defer { held = line }
            if let previous = held { return try body(previous, false) }
            return true
        }
        while true {
            let n: Int
            do { n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) } } catch {
                throw JournalError(operation: "read", path: path, errno: error as? Errno)
            }
            if n == 0 { break }
            var lineStart = 0
            for i in 0..<n where chunk[i] == UInt8(ascii: "\n") {
                pending += chunk[lineStart..<i]
                let line = JournalLine(file: path, lineNumber: lineNumber, offset: pendingOffset, bytes: pending,
                                       terminated: true)
                lineNumber += 1
                pendingOffset = offset + Int64(i) + 1
                pending.removeAll(keepingCapacity: true)
                lineStart = i + 1
                if try !emit(line) { return }
            }
            pending += chunk[lineStart..<n]
            offset += Int64(n)
        }
        if !pending.isEmpty {
            let line = JournalLine(file: path, lineNumber: lineNumber, offset: pendingOffset, bytes: pending, terminated: false)
            if try !emit(line) { return }
        }
        if let last = held { _ = try body(last, true) }
    }
}

/// Follows the newest file as it grows (`--follow`), across rotation: polls for new complete lines.
public final class JournalFollower {
    let directory: JournalDirectory
    var path: String
    var fd: FileDescriptor?
    var inode: UInt64?
    var offset: Int64 = 0
    var lineNumber = 1
    var pending: [UInt8] = []

    /// Starts at the current end of `journal.jsonl` (or its beginning with `fromStart`).
    public init(directory: String, fromStart: Bool = false) throws {
        self.directory = JournalDirectory(directory)
        path = self.directory.current
        try reopen()
        if !fromStart, fd != nil {
            // Skip what is there, counting its lines so line numbers stay right.
            try JournalReader.forEachLine(in: path) { line, _ in
                if line.terminated { lineNumber = line.lineNumber + 1; offset = line.offset + Int64(line.bytes.count) + 1 }
                return true
            }
        }
    }

    deinit { try? fd?.close() }

    func reopen() throws {
        try? fd?.close()
        fd = nil
        inode = nil
        offset = 0
        lineNumber = 1
        pending = []
        guard Sys.inode(path) != nil else { return }
        let newFD = try Sys.open(path, .readOnly)
        fd = newFD
        inode = Sys.inode(newFD)
    }

    /// The complete lines added since the last call.
    public func poll() throws -> [JournalLine] {
        var lines = try drain()
        // Rotated away (or created since): finish the old file, then start the new one.
        if Sys.inode(path) != inode {
            lines += try drain()
            try reopen()
            lines += try drain()
        }
        return lines
    }

    func drain() throws -> [JournalLine] {
        guard let fd else { return [] }
        var lines: [JournalLine] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n: Int
            do { n = try chunk.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: offset + Int64(pending.count), into: $0) } } catch {
                throw JournalError(operation: "read", path: path, errno: error as? Errno)
            }
            if n == 0 { break }
            pending += chunk[..<n]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = Array(pending[..<newline])
                lines.append(JournalLine(file: path, lineNumber: lineNumber, offset: offset, bytes: bytes, terminated: true))
                lineNumber += 1
                offset += Int64(newline) + 1
                pending.removeSubrange(...newline)
            }
        }
        return lines
    }
}
