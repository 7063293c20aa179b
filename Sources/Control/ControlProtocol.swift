import Enforcement
import Foundation
import Sysfs

/// The control socket's protocol: one JSON object per line each way, over an `AF_UNIX` stream socket.
///
/// Requests (`op` says which; every other key depends on it):
/// - `{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1","quarantine":"passthrough","format":"text"}`
/// - `{"op":"release","owner":"vm1"}` or `{"op":"release","devices":["0000:03:01.0"]}`
/// - `{"op":"plan","action":"assign"|"release", ...the keys of assign or release...}`: nothing is written
/// - `{"op":"status"}`: group states, assignments and agent info
/// - `{"op":"list"}`: the graph as `list --json` prints it
///
/// Any request may carry `"id"` (echoed back) and `"format":"text"|"json"` (how `output` is rendered).
/// A key given twice in one object is refused (`bad_json`), not resolved by taking the last. `"owner"` follows
/// ``OwnerName``'s rule, the same as the CLI's `--owner` and the policy's.
/// A reply is `{"ok":true,"op":...,...}` or `{"ok":false,"error":{"code":...,"message":...}}`.
public struct ControlRequest: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable, Codable {
        case assign, release, plan, status, list

        /// Whether the operation changes state (root only) or only reads (the read group may too).
        public var changesState: Bool { self == .assign || self == .release }
    }

    public enum PlanAction: String, Sendable, CaseIterable, Codable { case assign, release }
    public enum Format: String, Sendable, CaseIterable, Codable { case text, json }

    public var op: Operation
    public var id: String?
    public var devices: [PCIAddress]
    public var owner: String?
    public var quarantine: Planner.SiblingMode
    /// For `plan`: what is planned.
    public var action: PlanAction?
    public var format: Format

    public init(op: Operation, id: String? = nil, devices: [PCIAddress] = [], owner: String? = nil,
                quarantine: Planner.SiblingMode = .passthrough, action: PlanAction? = nil, format: Format = .text) {
        self.op = op
        self.id = id
        self.devices = devices
        self.owner = owner
        self.quarantine = quarantine
        self.action = action
        self.format = format
    }

    /// How the request reads in the journal's `cause.request` and in logs: `assign 0000:03:01.0 --owner vm1`.
    public var summary: String {
        var parts: [String] = [op.rawValue]
        if let action { parts.append(action.rawValue) }
        parts += devices.map(\.description)
        if let owner { parts.append("--owner \(owner)") }
        if (op == .assign || action == .assign) && quarantine != .passthrough { parts.append("--quarantine \(quarantine.rawValue)") }
        return parts.joined(separator: " ")
    }

    /// What a request line costs at most, newline excluded; a longer line is refused unread.
    public static let maximumLineBytes = 64 * 1024

    /// Parses one request line (without its newline), or says exactly what is wrong with it.
    public static func parse(_ line: some Collection<UInt8>) throws(ControlProtocolError) -> ControlRequest {
        guard line.count <= maximumLineBytes else {
            throw ControlProtocolError(.lineTooLong, "the request is \(line.count) bytes; at most \(maximumLineBytes) are read")
        }
        let object: [String: Any]
        do {
            let value = try JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])
            guard let dictionary = value as? [String: Any] else {
                throw ControlProtocolError(.badJSON, "a request is a JSON object, not \(typeName(value))")
            }
            object = dictionary
        } catch let error as ControlProtocolError {
            throw error
        } catch {
            throw ControlProtocolError(.badJSON, "not valid JSON: \(describe(error))")
        }
        if let repeated = JSONDuplicateKeys.first(in: line) {
            throw ControlProtocolError(.badJSON, "key \"\(escapedForTerminal(repeated))\" appears more than once in one object: a request names each key once",
                                       field: repeated)
        }
        let known: Set<String> = ["op", "id", "devices", "owner", "quarantine", "action", "format"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ControlProtocolError(.badField, "unknown key \"\(escapedForTerminal(unknown))\" (known: \(known.sorted().joined(separator: ", ")))", field: unknown)
        }
        guard let opValue = object["op"] else { throw ControlProtocolError(.badField, "missing \"op\"", field: "op") }
        guard let opText = opValue as? String else {
            throw ControlProtocolError(.badField, "\"op\" must be a string, not \(typeName(opValue))", field: "op")
        }
        guard let op = Operation(rawValue: opText) else {
            throw ControlProtocolError(.unknownOperation, "unknown op \"\(escapedForTerminal(opText))\" (known: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")))", field: "op")
        }
        var request = ControlRequest(op: op)
        request.id = try string(object, "id")
        request.owner = try string(object, "owner")
        if let owner = request.owner {
            do throws(OwnerNameError) {
                _ = try OwnerName(owner)
            } catch {
                throw ControlProtocolError(.badField, "\"owner\": \(error)", field: "owner")
            }
        }
        if let text = try string(object, "quarantine") {
            guard let mode = Planner.SiblingMode(rawValue: text) else {
                throw ControlProtocolError(.badField, "unknown quarantine \"\(escapedForTerminal(text))\" (known: \(Planner.SiblingMode.allCases.map(\.rawValue).joined(separator: ", ")))", field: "quarantine")
            }
            request.quarantine = mode
        }
        if let text = try string(object, "format") {
            guard let format = Format(rawValue: text) else {
                throw ControlProtocolError(.badField, "unknown format \"\(escapedForTerminal(text))\" (known: text, json)", field: "format")
            }
            request.format = format
        }
        if let text = try string(object, "action") {
            guard let action = PlanAction(rawValue: text) else {
                throw ControlProtocolError(.badField, "unknown plan action \"\(escapedForTerminal(text))\" (known: assign, release)", field: "action")
            }
            request.action = action
        }
        if let value = object["devices"] {
            guard let list = value as? [Any] else {
                throw ControlProtocolError(.badField, "\"devices\" must be an array of PCI addresses, not \(typeName(value))", field: "devices")
            }
            request.devices = try list.map { item throws(ControlProtocolError) -> PCIAddress in
                guard let text = item as? String else {
                    throw ControlProtocolError(.badAddress, "\"devices\" holds \(typeName(item)), not a PCI address string", field: "devices")
                }
                do throws(PCIAddressError) {
                    return try PCIAddress.parse(text)
                } catch {
                    throw ControlProtocolError(.badAddress, error.description, field: "devices")
                }
            }
        }
        try request.validate()
        return request
    }

    /// The rules that span keys: what each operation needs.
    func validate() throws(ControlProtocolError) {
        let kind: PlanAction?
        switch op {
        case .assign: kind = .assign
        case .release: kind = .release
        case .plan:
            guard let action else { throw ControlProtocolError(.badField, "\"plan\" needs \"action\": assign or release", field: "action") }
            kind = action
        case .status, .list:
            if action != nil { throw ControlProtocolError(.badField, "\"action\" belongs to \"plan\" only", field: "action") }
            kind = nil
        }
        if op != .plan && action != nil { throw ControlProtocolError(.badField, "\"action\" belongs to \"plan\" only", field: "action") }
        switch kind {
        case .assign:
            if devices.isEmpty { throw ControlProtocolError(.badField, "assign needs \"devices\": one PCI address or more", field: "devices") }
            if owner == nil { throw ControlProtocolError(.badField, "assign needs \"owner\"", field: "owner") }
        case .release:
            if devices.isEmpty && owner == nil { throw ControlProtocolError(.badField, "release needs \"devices\" or \"owner\"", field: "devices") }
        case nil: break
        }
    }

    /// The request as one line (with its newline), as a client sends it.
    public func encodedLine() -> [UInt8] {
        var object: [String: Any] = ["op": op.rawValue]
        if let id { object["id"] = id }
        if !devices.isEmpty { object["devices"] = devices.map(\.description) }
        if let owner { object["owner"] = owner }
        if quarantine != .passthrough { object["quarantine"] = quarantine.rawValue }
        if let action { object["action"] = action.rawValue }
        if format != .text { object["format"] = format.rawValue }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }

    private static func string(_ object: [String: Any], _ key: String) throws(ControlProtocolError) -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else {
            throw ControlProtocolError(.badField, "\"\(key)\" must be a string, not \(typeName(value))", field: key)
        }
        return text
    }
}

/// What was wrong with a request; the reply's `error`.
public struct ControlProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// Not JSON, or JSON but not an object.
        case badJSON = "bad_json"
        /// A request longer than ``ControlRequest/maximumLineBytes``.
        case lineTooLong = "line_too_long"
        case unknownOperation = "unknown_op"
        /// A key missing, unknown, of the wrong type or with a value out of range.
        case badField = "bad_field"
        /// A `devices` entry that is not a PCI address.
        case badAddress = "bad_address"
        /// The caller may not do this (peer credentials).
        case refused = "refused"
        /// The agent could not carry the request out (an internal error; the message says which).
        case failed = "failed"
    }

    public var code: Code
    public var message: String
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

private func typeName(_ value: Any) -> String {
    switch value {
    case is NSNull: return "null"
    case is String: return "a string"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    case is NSNumber: return "a number or boolean"
    default: return "\(type(of: value))"
    }
}

private func describe(_ error: any Error) -> String {
    let text = "\(error)"
    if let range = text.range(of: "NSDebugDescription=") {
        return String(text[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "})"))
    }
    return (error as NSError).localizedDescription
}
