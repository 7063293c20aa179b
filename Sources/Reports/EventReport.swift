#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs
import Topology

/// What `watch` prints for each event and for each resync, as text for people or one JSON object per line.
///
/// Human form, an event line followed by one indented line per changed device and group:
///
///     unbind 0000:03:01.0 driver=- seqnum=1003
///       ~ 0000:03:01.0 driver e1000 → -
///       group 4: not viable → viable
///
/// JSON form (keys sorted), one line per event:
///
///     {"action":"unbind","address":"0000:03:01.0","changes":{"devices":[…],"groups":[…]},"devpath":"/devices/…","driver":null,"seqnum":1003}
///     {"changes":{"devices":[],"groups":[]},"overflow":true}
///
/// `action`, `address`, `driver`, `seqnum` and `devpath` are always present (`null` when the event had none),
/// so a JSON line can be replayed as the event it reports (`watch --replay`).
public enum EventReport {
    // MARK: Human

    /// The event line and its change lines (each through ``escapedForTerminal(_:)``: a driver name from a
    /// uevent or sysfs never reaches the terminal as a control sequence).
    public static func humanLines(event: DeviceEvent, change: GraphChange) -> [String] {
        var header = "\(event.action.rawValue) \(event.address) driver=\(event.driver ?? "-")"
        header += " seqnum=\(event.seqnum.map(String.init) ?? "-")"
        return ([header] + changeLines(change)).map(escapedForTerminal)
    }

    /// The lines for a resync after lost events: what the rescan found different from the graph kept so far.
    public static func humanResyncLines(change: GraphChange) -> [String] {
        (["resync: events were lost (receive buffer overflow); rescanned the whole graph"] + changeLines(change)).map(escapedForTerminal)
    }

    /// One indented line per changed device (`+` added, `-` removed, `~` changed) and per changed group.
    public static func changeLines(_ change: GraphChange) -> [String] {
        if change.isEmpty { return ["  (graph unchanged)"] }
        return change.devices.map { "  " + deviceLine($0) } + change.groups.map { "  " + groupLine($0) }
    }

    /// `+ ADDRESS field value, …`, `- ADDRESS field value, …` (the values it had) or `~ ADDRESS field old → new; …`.
    public static func deviceLine(_ change: DeviceChange) -> String {
        switch change.kind {
        case .added:
            let fields = change.fields.map { "\($0.field) \($0.new ?? "-")" }.joined(separator: ", ")
            return "+ \(change.address) added" + (fields.isEmpty ? "" : ": \(fields)")
        case .removed:
            let fields = change.fields.map { "\($0.field) \($0.old ?? "-")" }.joined(separator: ", ")
            return "- \(change.address) removed" + (fields.isEmpty ? "" : " (was \(fields))")
        case .changed:
            return "~ \(change.address) " + change.fields.map(\.description).joined(separator: "; ")
        }
    }

    /// `group N: new, members …, viable`, `group N: gone (members were …)`, or what differs:
    /// `group N: members A → A, B; viable → not viable`.
    public static func groupLine(_ change: GroupChange) -> String {
        func viability(_ viable: Bool) -> String { viable ? "viable" : "not viable" }
        func members(_ list: [PCIAddress]) -> String { list.isEmpty ? "-" : list.map(\.description).joined(separator: ", ") }
        switch (change.before, change.after) {
        case (nil, let after?):
            return "group \(change.group): new, members \(members(after.members)), \(viability(after.viable))"
        case (let before?, nil):
            return "group \(change.group): gone (members were \(members(before.members)))"
        case (let before?, let after?):
            var parts: [String] = []
            if before.members != after.members {
                parts.append("members \(members(before.members)) → \(members(after.members))")
            }
            if before.viable != after.viable {
                parts.append("\(viability(before.viable)) → \(viability(after.viable))")
            } else {
                parts.append("still \(viability(after.viable))")
            }
            return "group \(change.group): " + parts.joined(separator: "; ")
        case (nil, nil):
            return "group \(change.group): unchanged"
        }
    }

    // MARK: JSON

    /// One JSON object, on one line, for a device event and its change.
    public static func jsonLine(event: DeviceEvent, change: GraphChange) -> String {
        encode(EventLine(event: event, changes: ChangesJSON(change)))
    }

    /// `{"changes":…,"overflow":true}` for a resync after lost events.
    public static func jsonResyncLine(change: GraphChange) -> String {
        encode(OverflowLine(changes: ChangesJSON(change)))
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only strings, integers, booleans and arrays of them: encoding cannot fail.
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }

    struct EventLine: Encodable {
        var event: DeviceEvent
        var changes: ChangesJSON

        enum CodingKeys: String, CodingKey { case action, address, driver, seqnum, devpath, changes }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(event.action.rawValue, forKey: .action)
            try container.encode(event.address.description, forKey: .address)
            try container.encode(event.driver, forKey: .driver)
            try container.encode(event.seqnum, forKey: .seqnum)
            try container.encode(event.devpath, forKey: .devpath)
            try container.encode(changes, forKey: .changes)
        }
    }

    struct OverflowLine: Encodable {
        var overflow = true
        var changes: ChangesJSON
    }

    struct ChangesJSON: Encodable {
        var devices: [DeviceJSON]
        var groups: [GroupJSON]

        init(_ change: GraphChange) {
            devices = change.devices.map(DeviceJSON.init)
            groups = change.groups.map(GroupJSON.init)
        }
    }

    struct DeviceJSON: Encodable {
        var address: String
        var kind: String
        var fields: [FieldJSON]

        init(_ change: DeviceChange) {
            address = change.address.description
            kind = change.kind.rawValue
            fields = change.fields.map { FieldJSON(field: $0.field, old: $0.old, new: $0.new) }
        }
    }

    /// Old and new are `null` when the field had no value (no driver, not a VF…).
    struct FieldJSON: Encodable {
        var field: String
        var old: String?
        var new: String?

        enum CodingKeys: String, CodingKey { case field, old, new }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(field, forKey: .field)
            try container.encode(old, forKey: .old)
            try container.encode(new, forKey: .new)
        }
    }

    /// `before` is `null` for a new group, `after` for one that vanished.
    struct GroupJSON: Encodable {
        var group: Int
        var before: SummaryJSON?
        var after: SummaryJSON?

        init(_ change: GroupChange) {
            group = change.group
            before = change.before.map(SummaryJSON.init)
            after = change.after.map(SummaryJSON.init)
        }

        enum CodingKeys: String, CodingKey { case group, before, after }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(group, forKey: .group)
            try container.encode(before, forKey: .before)
            try container.encode(after, forKey: .after)
        }
    }

    struct SummaryJSON: Encodable {
        var members: [String]
        var viable: Bool

        init(_ summary: GroupSummary) {
            members = summary.members.map(\.description)
            viable = summary.viable
        }
    }
}
