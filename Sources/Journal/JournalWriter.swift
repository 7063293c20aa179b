#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import SystemPackage
import enum Sysfs.CrashPoint
import enum Sysfs.PrivateDirectory
import struct Sysfs.SysfsError

/// The one writer of a journal directory.
///
/// - Single owner: `open` takes `flock(LOCK_EX|LOCK_NB)` on `journal.lock`; a second writer, in this process or
///   another, is refused with a `JournalError` of kind `.locked` naming the holder's pid.
/// - Group commit: records submitted while a commit is in flight are written together with one `write(2)` and
///   one `fsync(2)` on a dedicated serial queue. `append` returns only once its record is durable, so the record
///   of an action's intent is on disk before the caller's first sysfs write.
/// - Recovery: a torn last line (a crash mid-write) is moved to `journal.torn.N`, the file is cut back to its
///   last whole record, and a `record_refused` record says so. No earlier record is touched.
/// - Rotation: when `journal.jsonl` would pass `maxFileBytes` it becomes `journal.1.jsonl` (older ones shift up,
///   those past `retainedFiles` are deleted); the hash chain and sequence carry on into the new file.
/// - After a failed `write` or `fsync` (a full disk) the batch is refused and the file cut back to its last
///   durable size; the next append first cuts and `fsync`s again, and only once that succeeds writes, so the
///   writer takes records again by itself when space returns. After a failed rotation it refuses every further
///   append; reopening recovers from what is on disk.
/// - Its files: `journal.jsonl`, `journal.lock` and `journal.head` are opened with `O_NOFOLLOW` (a symbolic link
///   planted there is refused, never followed), created with `O_EXCL`, and the directory is `fsync`ed after; the
///   directory (and each made above it) is `fsync`ed into its parent, and refused when anyone but its owner
///   (root, or the user running us) can write it (see ``PrivateDirectory``).
public final class JournalWriter: Sendable {
    public struct Options: Sendable {
        /// Rotate when `journal.jsonl` would grow past this many bytes.
        public var maxFileBytes: Int64 = 64 << 20
        /// How many rotated files to keep (`journal.1.jsonl` ... `journal.N.jsonl`).
        public var retainedFiles: Int = 10
        /// The host name written into each record; `gethostname(2)` when nil.
        public var hostName: String?
        /// Where records are mirrored once durable (journald), nil for none.
        public var mirror: JournalMirror?
        /// Tests only: a disk that fills up on demand.
        public var faults: JournalFaults?
        /// Wall-clock microseconds and monotonic nanoseconds; the system clocks unless a test replaces them.
        public var clock: @Sendable () -> (realtimeMicros: Int64, monotonicNanos: UInt64) = {
            (Sys.realtimeMicros(), Sys.monotonicNanos())
        }
        public init() {}
    }

    /// What `open` found and did about a torn tail.
    public struct Recovery: Sendable, Equatable {
        /// The file and line that was torn.
        public var file: String
        public var line: Int
        public var reason: String
        /// Where the torn bytes now are.
        public var setAsideAs: String
        public var bytes: Int
    }

    public let directory: JournalDirectory
    public let options: Options
    /// Set when `open` found and set aside a torn tail.
    public let recovery: Recovery?

    let host: String
    let bootID: String?
    /// The directory's path with links resolved (`realpath(3)`), as the journald mirror names it.
    let resolvedDirectory: String
    let state: Mutex<State>
    let io: IOState
    let queue = DispatchQueue(label: "vfio-warden.journal.commit")

    struct Pending {
        var event: JournalEvent
        var cause: Cause?
        var realtimeMicros: Int64
        var monotonicNanos: UInt64
        var complete: @Sendable (Result<JournalRecord, JournalError>) -> Void
    }

    struct State: ~Copyable {
        var pending: [Pending] = []
        var committing = false
        var closed = false
        var commits = 0
    }

    /// Touched only by the commit queue (and by `init` before the queue is used).
    final class IOState: @unchecked Sendable {
        var fd: FileDescriptor
        var head: FileDescriptor
        var lock: FileDescriptor
        var size: Int64
        var lastSeq: UInt64
        var lastHash: String
        var failure: JournalError?
        /// Whether `failure` was a failed write or fsync of `fd` (which cutting back to `size` undoes), not a
        /// failed rotation.
        var failureIsRetryable = false
        var firstSeq: UInt64?
        var isClosed = false
        func closeFiles() {
            if isClosed { return }
            isClosed = true
            try? fd.close()
            try? head.close()
            try? lock.close()
        }
        init(fd: FileDescriptor, head: FileDescriptor, lock: FileDescriptor, size: Int64, lastSeq: UInt64, lastHash: String) {
            self.fd = fd; self.head = head; self.lock = lock; self.size = size; self.lastSeq = lastSeq; self.lastHash = lastHash
        }
    }

    /// Opens (creating if needed) the journal in `directory`, taking its lock and recovering a torn tail.
    public init(directory path: String, options: Options = Options()) throws(JournalError) {
        directory = JournalDirectory(path)
        self.options = options
        host = options.hostName ?? Sys.hostName()
        bootID = Sys.bootID()
        state = Mutex(State())

        do {
            try PrivateDirectory.make(path, mode: 0o750)
        } catch {
            throw JournalError(operation: error.operation, path: error.path, errno: error.errno)
        }
        do {
            try PrivateDirectory.check(path)
        } catch {
            throw JournalError(operation: "check", path: error.path, detail: error.description)
        }
        let lock = try Self.takeLock(directory)
        do {
            let (lastSeq, lastHash, recovery) = try Self.recover(directory)
            self.recovery = recovery
            let fd = try Sys.openOrCreate(directory.current, .writeOnly, options: [.append])
            let size = try Sys.size(fd, path: directory.current)
            let head = try Sys.openOrCreate(directory.headFile, .readWrite)
            try Sys.fsyncDirectory(path)
            io = IOState(fd: fd, head: head, lock: lock, size: size, lastSeq: lastSeq, lastHash: lastHash)
            io.firstSeq = try Self.firstSeq(directory)
            resolvedDirectory = directory.resolvedPath
        } catch {
            try? lock.close()
            throw error
        }
        if let recovery {
            _ = try appendAndWait(.recordRefused(RecordRefused(
                reason: "torn tail at \(recovery.file.split(separator: "/").last ?? ""):\(recovery.line): \(recovery.reason)",
                setAsideAs: recovery.setAsideAs.split(separator: "/").last.map(String.init), bytes: recovery.bytes)),
                cause: .agent("journal recovery"))
        }
    }

    deinit { io.closeFiles() }

    /// The sequence number of the last durable record (0 when the journal is empty).
    public var lastSequence: UInt64 { queue.sync { io.lastSeq } }

    /// How many `write`+`fsync` commits this writer made (for tests and benchmarks).
    public var commitCount: Int { state.withLock { $0.commits } }

    /// Appends a record and returns it, with its seq and hash, once it is durable on disk.
    @discardableResult
    public func append(_ event: JournalEvent, cause: Cause? = nil) async throws(JournalError) -> JournalRecord {
        let result: Result<JournalRecord, JournalError> = await withCheckedContinuation { continuation in
            submit(event, cause: cause) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `append` for callers outside async code: blocks the calling thread until the record is durable.
    /// Never call it from the commit queue.
    @discardableResult
    public func appendAndWait(_ event: JournalEvent, cause: Cause? = nil) throws(JournalError) -> JournalRecord {
        let box = Mutex<Result<JournalRecord, JournalError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        submit(event, cause: cause) { result in
            box.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }

    /// Waits for pending records, then releases the file and the lock. Later appends fail with `.closed`.
    public func close() {
        state.withLock { $0.closed = true }
        // Pending commits run before this block on the serial queue; a commit loop started later finds `closed`.
        queue.sync {}
        while state.withLock({ $0.committing }) { queue.sync {} }
        queue.sync { io.closeFiles() }
    }

    func submit(_ event: JournalEvent, cause: Cause?, complete: @escaping @Sendable (Result<JournalRecord, JournalError>) -> Void) {
        let startCommit: Bool? = state.withLock { s in
            if s.closed { return nil }
            // The clock is read under the lock, so times never go backwards along the sequence.
            let now = options.clock()
            s.pending.append(Pending(event: event, cause: cause, realtimeMicros: now.realtimeMicros,
                                     monotonicNanos: now.monotonicNanos, complete: complete))
            if s.committing { return false }
            s.committing = true
            return true
        }
        switch startCommit {
        case nil:
            complete(.failure(JournalError(.closed, operation: "append", path: directory.current, detail: "the writer is closed")))
        case true?:
            queue.async { self.commitLoop() }
        case false?:
            break
        }
    }

    func commitLoop() {
        while true {
            let batch: [Pending] = state.withLock { s in
                if s.pending.isEmpty {
                    s.committing = false
                    return []
                }
                defer { s.pending.removeAll(keepingCapacity: true) }
                s.commits += 1
                return s.pending
            }
            if batch.isEmpty { return }
            commit(batch)
        }
    }

    /// One group commit: encode, one write, one fsync, note the head, mirror, then wake every submitter.
    func commit(_ batch: [Pending]) {
        if io.isClosed {
            for p in batch { p.complete(.failure(JournalError(.closed, operation: "append", path: directory.current, detail: "the writer is closed"))) }
            return
        }
        if let failure = io.failure {
            guard io.failureIsRetryable, cutBackAfterFailure() else {
                for p in batch { p.complete(.failure(failure)) }
                return
            }
        }
        var buffer: [UInt8] = []
        var records: [(JournalRecord, [UInt8])] = []
        var outcomes: [Result<JournalRecord, JournalError>] = []
        var seq = io.lastSeq
        var prev = io.lastHash
        for p in batch {
            var record = JournalRecord(seq: seq + 1, realtimeMicros: p.realtimeMicros, monotonicNanos: p.monotonicNanos,
                                       bootID: bootID, host: host, cause: p.cause, event: p.event, prev: prev)
            do {
                let (line, hash) = try RecordCodec.encodeLine(record)
                record.hash = hash
                seq += 1
                prev = hash
                buffer += line
                buffer.append(UInt8(ascii: "\n"))
                records.append((record, line))
                outcomes.append(.success(record))
            } catch {
                outcomes.append(.failure(JournalError(.malformed, operation: "encode", path: directory.current, detail: "\(error)")))
            }
        }
        do throws(JournalError) {
            if io.size > 0 && io.size + Int64(buffer.count) > options.maxFileBytes {
                do {
                    try rotate()
                } catch {
                    io.failure = error
                    io.failureIsRetryable = false
                    for p in batch { p.complete(.failure(error)) }
                    return
                }
            }
            if !buffer.isEmpty {
                if let errno = options.faults?.fault(writing: records.count) {
                    throw JournalError(operation: "write", path: directory.current, errno: errno)
                }
                try Sys.writeAll(io.fd, buffer, path: directory.current)
                try Sys.fsync(io.fd, path: directory.current)
                io.size += Int64(buffer.count)
                io.lastSeq = seq
                io.lastHash = prev
                if io.firstSeq == nil { io.firstSeq = records.first?.0.seq }
                writeHead()
            }
        } catch {
            io.failure = error
            io.failureIsRetryable = true
            // Cut back a partial write so the file ends on a whole record (the next append checks it did).
            _ = try? Sys.truncate(io.fd, to: io.size, path: directory.current)
            for p in batch { p.complete(.failure(error)) }
            return
        }
        // Test-only (armed by the environment): the batch is durable and no submitter has been told yet.
        if !records.isEmpty { CrashPoint.reached("journal " + records.map { $0.0.kind.rawValue }.joined(separator: ",")) }
        if let mirror = options.mirror {
            for (record, line) in records { mirror.send(record, line: line, journal: resolvedDirectory) }
        }
        for (p, outcome) in zip(batch, outcomes) { p.complete(outcome) }
    }

    /// After a failed write or fsync: cuts `journal.jsonl` back to the last size known durable and `fsync`s it.
    /// Only when both succeed does the writer take records again: the file then holds exactly the durable records
    /// (bytes of the failed batch that reached the page cache are gone with the cut).
    func cutBackAfterFailure() -> Bool {
        do {
            try Sys.truncate(io.fd, to: io.size, path: directory.current)
            try Sys.fsync(io.fd, path: directory.current)
            guard try Sys.size(io.fd, path: directory.current) == io.size else { return false }
        } catch {
            return false
        }
        io.failure = nil
        io.failureIsRetryable = false
        return true
    }

    /// `journal.head`: the last durable seq and hash, overwritten in place and not fsynced; it can only lag
    /// behind the journal, never run ahead of it, so a journal that ends before it was truncated.
    func writeHead() {
        let first = io.firstSeq.map { #","first":\#($0)"# } ?? ""
        let text = #"{"seq":\#(io.lastSeq),"hash":"\#(io.lastHash)"\#(first)}"#
        var bytes = Array(text.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: max(0, 127 - bytes.count))
        bytes.append(UInt8(ascii: "\n"))
        _ = try? bytes.withUnsafeBytes { try io.head.write(toAbsoluteOffset: 0, $0) }
    }

    /// `journal.jsonl` → `journal.1.jsonl`, shifting older files up and deleting those past the retention.
    func rotate() throws(JournalError) {
        try Sys.fsync(io.fd, path: directory.current)
        try? io.fd.close()
        for n in try directory.rotatedNumbers().reversed() {
            if n >= options.retainedFiles {
                try Sys.unlink(directory.rotated(n))
            } else {
                try Sys.rename(directory.rotated(n), directory.rotated(n + 1))
            }
        }
        if options.retainedFiles > 0 {
            try Sys.rename(directory.current, directory.rotated(1))
        } else {
            try Sys.unlink(directory.current)
        }
        io.fd = try Sys.open(directory.current, .writeOnly, options: [.create, .append, .exclusiveCreate, .noFollow],
                             permissions: [.ownerReadWrite, .groupRead])
        io.size = 0
        try Sys.fsyncDirectory(directory.path)
        io.firstSeq = try Self.firstSeq(directory) ?? io.firstSeq
    }

    /// The seq of the oldest record present, nil when there is none.
    static func firstSeq(_ directory: JournalDirectory) throws(JournalError) -> UInt64? {
        for file in try directory.filesOldestFirst() {
            var found: UInt64?
            do {
                try JournalReader.forEachLine(in: file) { line, _ in
                    if line.terminated, let record = try? RecordCodec.decode(line.bytes) { found = record.seq }
                    return false
                }
            } catch let error as JournalError { throw error } catch {
                throw JournalError(operation: "read", path: file, detail: "\(error)")
            }
            if let found { return found }
        }
        return nil
    }

    static func takeLock(_ directory: JournalDirectory) throws(JournalError) -> FileDescriptor {
        let fd = try Sys.openOrCreate(directory.lockFile, .readWrite)
        var attempts = 0
        while flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let err = Errno(rawValue: Glibc.errno)
            let holder = (try? Sys.readAll(directory.lockFile)).map { String(decoding: $0, as: UTF8.self) }?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            // Held under this very process's pid after its writer closed: a child another thread is spawning
            // (between fork and exec it shares the lock's open file, O_CLOEXEC drops it at exec). Wait that out,
            // half a second at most; a writer of this process still open is refused after it.
            if err == .wouldBlock, holder == String(getpid()), attempts < 50 {
                attempts += 1
                usleep(10_000)
                continue
            }
            try? fd.close()
            throw JournalError(.locked, operation: "flock", path: directory.lockFile, errno: err,
                               detail: "another writer\(holder.isEmpty ? "" : " (pid \(holder))") holds the journal")
        }
        _ = try? Sys.truncate(fd, to: 0, path: directory.lockFile)
        _ = try? Array("\(getpid())\n".utf8).withUnsafeBytes { try fd.write(toAbsoluteOffset: 0, $0) }
        return fd
    }

    /// Finds the last whole record (across `journal.jsonl` and, when that is empty, `journal.1.jsonl`) and sets
    /// aside a torn tail of `journal.jsonl`.
    static func recover(_ directory: JournalDirectory) throws(JournalError) -> (UInt64, String, Recovery?) {
        var last: JournalRecord?
        var torn: (JournalLine, String)?
        func scan(_ file: String, tailIsTorn: Bool) throws(JournalError) {
            do {
                try JournalReader.forEachLine(in: file) { line, isLast in
                    switch JournalReader.classify(line, atTail: tailIsTorn && isLast) {
                    case .record(let r, _), .edited(let r, _): last = r
                    case .tornTail(let l, let reason): torn = (l, reason)
                    case .malformed: break
                    }
                    return true
                }
            } catch let error as JournalError { throw error } catch {
                throw JournalError(operation: "read", path: file, detail: "\(error)")
            }
        }
        if Sys.inode(directory.current) != nil { try scan(directory.current, tailIsTorn: true) }
        var recovery: Recovery?
        if let (line, reason) = torn {
            let tail = try Sys.readAll(directory.current, from: line.offset)
            let aside = directory.nextTornPath()
            let out = try Sys.open(aside, .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite, .groupRead])
            defer { try? out.close() }
            try Sys.writeAll(out, tail, path: aside)
            try Sys.fsync(out, path: aside)
            let fd = try Sys.open(directory.current, .writeOnly, options: [.noFollow])
            defer { try? fd.close() }
            try Sys.truncate(fd, to: line.offset, path: directory.current)
            try Sys.fsync(fd, path: directory.current)
            try Sys.fsyncDirectory(directory.path)
            recovery = Recovery(file: directory.current, line: line.lineNumber, reason: reason, setAsideAs: aside, bytes: tail.count)
        }
        if last == nil, try directory.rotatedNumbers().contains(1) {
            try scan(directory.rotated(1), tailIsTorn: false)
        }
        return (last?.seq ?? 0, last?.hash ?? JournalRecord.genesisHash, recovery)
    }
}
