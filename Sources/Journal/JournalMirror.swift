#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Mirrors each durable record to the systemd journal over its native protocol
/// (`sd_journal_sendv`'s wire format on a datagram `AF_UNIX` socket, default `/run/systemd/journal/socket`),
/// so `journalctl PCI_SLOT_NAME=0000:03:01.0` or `journalctl MESSAGE_ID=...` finds them.
///
/// Fields: `MESSAGE` (the story sentence), `MESSAGE_ID` (one per record kind), `PRIORITY`, `SYSLOG_IDENTIFIER`,
/// `PCI_SLOT_NAME` (once per device concerned), `IOMMU_GROUP` (the observed number), `OWNER`,
/// `ERRNO` (a failed step's), `VFIO_WARDEN_KIND`, `VFIO_WARDEN_SEQ`, `VFIO_WARDEN_HASH`, `VFIO_WARDEN_CAUSE`, `VFIO_WARDEN_RECORD` (the JSON line),
/// `VFIO_WARDEN_JOURNAL` (the journal directory, resolved). The seq and hash of every record make journald the
/// chain's anchor: `journal verify --against-journald` (see ``JournaldAnchor``).
///
/// Silently off when the socket is absent; a failed send is dropped (the file journal is the record of truth),
/// and a send never blocks (`MSG_DONTWAIT`), so a stalled journald cannot stall the commit queue.
public final class JournalMirror: Sendable {
    public let socketPath: String
    public let identifier: String
    let socket: Mutex<Int32>

    public static let defaultSocketPath = "/run/systemd/journal/socket"

    public init(socketPath: String = JournalMirror.defaultSocketPath, identifier: String = "vfio-warden") {
        self.socketPath = socketPath
        self.identifier = identifier
        socket = Mutex(-1)
    }

    deinit {
        socket.withLock { if $0 >= 0 { Glibc.close($0) } }
    }

    /// Whether the journald socket exists.
    public var isAvailable: Bool {
        var st = stat()
        return Glibc.lstat(socketPath, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    /// The journald fields for a record, in order (names may repeat).
    public static func fields(for record: JournalRecord, line: [UInt8]?, identifier: String = "vfio-warden", journal: String? = nil) -> [(String, [UInt8])] {
        var fields: [(String, [UInt8])] = []
        func add(_ name: String, _ value: String) { fields.append((name, Array(value.utf8))) }
        add("MESSAGE", StoryRenderer.sentence(for: record))
        add("MESSAGE_ID", record.kind.messageID)
        add("PRIORITY", String(priority(of: record)))
        add("SYSLOG_IDENTIFIER", identifier)
        for device in record.event.devices { add("PCI_SLOT_NAME", device.description) }
        if let number = record.event.group?.number { add("IOMMU_GROUP", String(number)) }
        if let owner = record.event.owner { add("OWNER", owner) }
        if case .stepFinished(let step) = record.event, let errno = step.errno { add("ERRNO", String(errno)) }
        add("VFIO_WARDEN_KIND", record.kind.rawValue)
        add("VFIO_WARDEN_SEQ", String(record.seq))
        add("VFIO_WARDEN_HASH", record.hash)
        if let cause = record.cause {
            add("VFIO_WARDEN_CAUSE", cause.source.rawValue)
            if let seqnum = cause.seqnum { add("UDEV_SEQNUM", String(seqnum)) }
            if let uid = cause.uid { add("VFIO_WARDEN_CALLER_UID", String(uid)) }
            if let pid = cause.pid { add("VFIO_WARDEN_CALLER_PID", String(pid)) }
        }
        if let line { fields.append(("VFIO_WARDEN_RECORD", line)) }
        if let journal { add("VFIO_WARDEN_JOURNAL", journal) }
        return fields
    }

    /// syslog priorities: 3 err, 4 warning, 5 notice, 6 info.
    static func priority(of record: JournalRecord) -> Int {
        switch record.event {
        case .violationDetected, .recordRefused, .flapping: 4
        case .planRefused: 5
        case .policyRejected: 3
        case .stepFinished(let s): s.succeeded ? 6 : 3
        case .recovery(let r): r.outcome == .failed ? 3 : 5
        case .planFinished(let f): f.outcome == .completed || f.outcome == .refused ? 6 : 3
        case .groupStateChanged(let g): g.to == .violated ? 4 : 5
        case .assignmentMade, .assignmentReleased, .policyLoaded, .agentStarted, .agentStopped: 5
        default: 6
        }
    }

    /// The native protocol: `NAME=value\n`, or for a value with a newline `NAME\n` + 64-bit little-endian length + value + `\n`.
    public static func encode(_ fields: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out += Array(name.utf8)
            if value.contains(UInt8(ascii: "\n")) {
                out.append(UInt8(ascii: "\n"))
                var length = UInt64(value.count).littleEndian
                withUnsafeBytes(of: &length) { out += $0 }
            } else {
                out.append(UInt8(ascii: "="))
            }
            out += value
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Sends one record; returns whether journald took it (false when absent or the send failed).
    @discardableResult
    public func send(_ record: JournalRecord, line: [UInt8]? = nil, journal: String? = nil) -> Bool {
        guard isAvailable else { return false }
        let datagram = Self.encode(Self.fields(for: record, line: line, identifier: identifier, journal: journal))
        return socket.withLock { fd -> Bool in
            if fd < 0 {
                fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                if fd < 0 { return false }
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let pathBytes = Array(socketPath.utf8)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard pathBytes.count < capacity else { return false }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: pathBytes)
                raw[pathBytes.count] = 0
            }
            let sent = datagram.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            return sent == datagram.count
        }
    }
}
