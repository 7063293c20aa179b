#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs

/// One journal record: one line of `journal.jsonl`.
///
/// Encoded as one JSON object with sorted keys, then the writer appends `"hash"`: the SHA-256 of the object's
/// bytes as written without that field. `prev` is the hash of the record before it (across rotated files), so
/// any edit, removal or reordering breaks the chain at a place `JournalVerifier` can name.
public struct JournalRecord: Sendable, Equatable {
    /// Position in the whole journal, from 1, without gaps, carried across rotated files.
    public var seq: UInt64
    /// Wall-clock time, microseconds since 1970 (`CLOCK_REALTIME`), as journald's `__REALTIME_TIMESTAMP`.
    public var realtimeMicros: Int64
    /// `CLOCK_MONOTONIC` in nanoseconds; only comparable between records with the same `bootID`.
    public var monotonicNanos: UInt64
    /// `/proc/sys/kernel/random/boot_id` of the boot that wrote the record, when readable.
    public var bootID: String?
    /// The host's name (`gethostname(2)`).
    public var host: String
    /// Why it happened: the udev event, the control request, the policy rule, a resync.
    public var cause: Cause?
    /// What happened.
    public var event: JournalEvent
    /// The hash of the record before, or 64 zeros for the first record ever written.
    public var prev: String
    /// The SHA-256 of this record as written without this field (hex); empty before the writer computes it.
    public var hash: String

    public init(seq: UInt64, realtimeMicros: Int64, monotonicNanos: UInt64, bootID: String? = nil, host: String,
                cause: Cause?, event: JournalEvent, prev: String, hash: String = "") {
        self.seq = seq
        self.realtimeMicros = realtimeMicros
        self.monotonicNanos = monotonicNanos
        self.bootID = bootID
        self.host = host
        self.cause = cause
        self.event = event
        self.prev = prev
        self.hash = hash
    }

    public var kind: RecordKind { event.kind }

    /// The wall-clock time as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(realtimeMicros) / 1_000_000) }

    /// The hash that stands before the first record ever written.
    public static let genesisHash = String(repeating: "0", count: 64)
}

/// Why a transition happened.
public struct Cause: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// A udev event: `seqnum` and `action` say which.
        case udev
        /// A request on the control socket or the CLI: `request`, `uid`, `pid`.
        case control
        /// A policy rule: `rule` names it.
        case policy
        /// A resync of the graph against sysfs.
        case resync
        /// The agent itself (start, stop, recovery).
        case agent
    }

    public var source: Source
    /// udev's `SEQNUM`.
    public var seqnum: UInt64?
    /// udev's `ACTION` (add, remove, bind, unbind, change).
    public var action: String?
    /// The control request, e.g. `assign 0000:03:01.0 vm1`.
    public var request: String?
    /// The caller's credentials (`SO_PEERCRED`).
    public var uid: UInt32?
    public var pid: Int32?
    /// The policy rule, as the policy file names it.
    public var rule: String?
    /// Free words, when the source alone does not say enough.
    public var detail: String?

    public init(source: Source, seqnum: UInt64? = nil, action: String? = nil, request: String? = nil,
                uid: UInt32? = nil, pid: Int32? = nil, rule: String? = nil, detail: String? = nil) {
        self.source = source
        self.seqnum = seqnum
        self.action = action
        self.request = request
        self.uid = uid
        self.pid = pid
        self.rule = rule
        self.detail = detail
    }

    public static func udev(seqnum: UInt64, action: String) -> Cause { Cause(source: .udev, seqnum: seqnum, action: action) }
    public static func control(_ request: String, uid: UInt32, pid: Int32) -> Cause {
        Cause(source: .control, request: request, uid: uid, pid: pid)
    }
    public static func policy(rule: String) -> Cause { Cause(source: .policy, rule: rule) }
    public static func resync(_ detail: String? = nil) -> Cause { Cause(source: .resync, detail: detail) }
    public static func agent(_ detail: String? = nil) -> Cause { Cause(source: .agent, detail: detail) }
}

extension JournalRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case seq, time, realtimeMicros = "realtime_us", monotonicNanos = "monotonic_ns", bootID = "boot_id", host
        case cause, kind, data, prev, hash
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(UInt64.self, forKey: .seq)
        realtimeMicros = try c.decode(Int64.self, forKey: .realtimeMicros)
        monotonicNanos = try c.decode(UInt64.self, forKey: .monotonicNanos)
        bootID = try c.decodeIfPresent(String.self, forKey: .bootID)
        host = try c.decode(String.self, forKey: .host)
        cause = try c.decodeIfPresent(Cause.self, forKey: .cause)
        prev = try c.decode(String.self, forKey: .prev)
        hash = try c.decodeIfPresent(String.self, forKey: .hash) ?? ""
        let kindText = try c.decode(String.self, forKey: .kind)
        guard let kind = RecordKind(rawValue: kindText) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown record kind '\(kindText)'")
        }
        event = try JournalEvent.decode(kind: kind, from: c, forKey: .data)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(ISO8601Micros.format(realtimeMicros), forKey: .time)
        try c.encode(realtimeMicros, forKey: .realtimeMicros)
        try c.encode(monotonicNanos, forKey: .monotonicNanos)
        try c.encodeIfPresent(bootID, forKey: .bootID)
        try c.encode(host, forKey: .host)
        try c.encodeIfPresent(cause, forKey: .cause)
        try c.encode(kind.rawValue, forKey: .kind)
        try event.encodePayload(to: &c, forKey: .data)
        try c.encode(prev, forKey: .prev)
        if !hash.isEmpty { try c.encode(hash, forKey: .hash) }
    }
}

/// `2026-11-25T08:35:00.123456Z`: UTC with microseconds, what `jq` users and log shippers read.
enum ISO8601Micros {
    static func format(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let civil = CivilTime(unixSeconds: seconds)
        return "\(pad(civil.year, 4))-\(pad(civil.month, 2))-\(pad(civil.day, 2))T"
            + "\(pad(civil.hour, 2)):\(pad(civil.minute, 2)):\(pad(civil.second, 2)).\(pad(Int(fraction), 6))Z"
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A UTC calendar date and time from Unix seconds (Howard Hinnant's days-from-civil, inverted).
struct CivilTime: Equatable {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(unixSeconds: Int64) {
        var days = Int(unixSeconds / 86_400)
        var rest = Int(unixSeconds % 86_400)
        if rest < 0 { rest += 86_400; days -= 1 }
        hour = rest / 3600; minute = rest % 3600 / 60; second = rest % 60
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }
}
