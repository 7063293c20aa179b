#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// Turns records into journal lines and back, and checks a line's own hash.
///
/// A line is the record's JSON object (sorted keys, no `hash`), with `,"hash":"<sha256 of those bytes>"` put
/// before its closing brace. Checking therefore needs no canonical re-encoding: strip the suffix, hash the rest.
public enum RecordCodec {
    static let hashPrefix = Array(#","hash":""#.utf8)
    /// `,"hash":"` + 64 hex digits + `"}`.
    static let suffixLength = hashPrefix.count + 64 + 2

    /// The line for `record` (without the newline) and its hash. `record.hash` is ignored.
    public static func encodeLine(_ record: JournalRecord) throws -> (line: [UInt8], hash: String) {
        var unhashed = record
        unhashed.hash = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body = [UInt8](try encoder.encode(unhashed))
        precondition(body.last == UInt8(ascii: "}"), "a record encodes as a JSON object")
        let hash = sha256Hex(body)
        body.removeLast()
        body += hashPrefix
        body += Array(hash.utf8)
        body += Array(#""}"#.utf8)
        return (body, hash)
    }

    /// The result of reading one line.
    public enum LineCheck: Sendable, Equatable {
        /// The record and its hash, which matches its content.
        case valid(JournalRecord)
        /// The record decodes, but its content no longer matches the hash it carries: it was edited.
        case hashMismatch(JournalRecord, computed: String)
        /// Not a record at all; the words say why.
        case malformed(String)
    }

    /// Decodes a line (without its newline) and checks its hash.
    public static func check(_ line: some Collection<UInt8>) -> LineCheck {
        let bytes = Array(line)
        let record: JournalRecord
        do {
            record = try JSONDecoder().decode(JournalRecord.self, from: Data(bytes))
        } catch let error as DecodingError {
            return .malformed(describe(error))
        } catch {
            return .malformed("not a JSON object: \(error)")
        }
        guard record.hash.count == 64, bytes.count > suffixLength,
              Array(bytes[(bytes.count - suffixLength)...].prefix(hashPrefix.count)) == hashPrefix
        else {
            return .hashMismatch(record, computed: "")
        }
        var body = Array(bytes[..<(bytes.count - suffixLength)])
        body.append(UInt8(ascii: "}"))
        let computed = sha256Hex(body)
        return computed == record.hash ? .valid(record) : .hashMismatch(record, computed: computed)
    }

    /// Decodes a line without checking its hash (for display).
    public static func decode(_ line: some Collection<UInt8>) throws -> JournalRecord {
        try JSONDecoder().decode(JournalRecord.self, from: Data(Array(line)))
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { hex($0) }.joined()
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not valid JSON" : "\(path): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing field '\(path)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field '\(path)' has the wrong type"
        @unknown default:
            return "\(error)"
        }
    }
}
