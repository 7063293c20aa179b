import Sysfs

/// One problem in a policy file, with where it is and what was expected.
///
/// `description`: `policy.toml:7:12: manage.devices[1]: invalid PCI address '03:1': expected [domain:]bus:slot.function`.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Not TOML at all (TOMLKit's parse error, with its position).
        case syntax
        /// A key or table the format does not have (a typo must not silently disable protection).
        case unknownKey
        /// A `group` key: IOMMU group numbers change across reboots.
        case groupKey
        /// A value of the wrong TOML type (a number where a string belongs).
        case wrongType
        /// A required key is absent (`owner` in `[[assign]]`).
        case missingKey
        case invalidAddress
        case invalidIDs
        case invalidClass
        /// A value of the right type that is out of range or empty.
        case invalidValue
        /// A control character (`\u0000`, a newline, an escape) in a string value.
        case controlCharacter
        /// The same device twice where once is meant (two `[[sriov]]` for one PF).
        case duplicate
        /// Two parts of the file contradict each other (assigning a protected device).
        case conflict
        /// The file cannot be read.
        case unreadable
    }

    public var kind: Kind
    public var file: String
    /// Where in the file; `nil` when the error is about the whole file (unreadable).
    public var position: SourcePosition?
    /// The TOML path of the offending key or value (`manage.devices[1]`), empty for the whole file.
    public var path: String
    public var message: String

    public init(kind: Kind, file: String, position: SourcePosition?, path: String, message: String) {
        self.kind = kind
        self.file = file
        self.position = position
        self.path = path
        self.message = message
    }

    public var description: String {
        var text = escapedForTerminal(file)
        if let position { text += ":\(position.line):\(position.column)" }
        if !path.isEmpty { text += ": \(escapedForTerminal(path))" }
        return text + ": " + message
    }
}

/// Every problem found in a policy file, in file order (all of them, not just the first).
public struct PolicyErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [PolicyError]

    public init(_ errors: [PolicyError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
