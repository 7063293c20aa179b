/// Who an assignment is for (a libvirt domain `libvirt:web1`, a Proxmox VMID `101`, a Kubernetes pod
/// `namespace/name`): the one rule for owners, whoever gives them (the CLI's `--owner`, the control socket's
/// `"owner"`, the libvirt hook, the policy's `[[assign]] owner`).
///
/// An owner is 1 to ``maximumBytes`` bytes of UTF-8, not blank, without leading or trailing spaces, and made of
/// printable characters only: letters, digits, marks, punctuation, symbols of any script and the plain space.
/// Refused: control characters (newline, tab, escape, DEL, C1), other separators and spacing characters (a
/// no-break space looks like a space), format characters (bidirectional overrides, zero-width characters),
/// private-use and unassigned code points, and U+FFFD (what invalid UTF-8 becomes). An owner is printed on the
/// terminal and written into the journal: nothing in it can forge a line or recolour the screen.
public struct OwnerName: Sendable, Hashable, CustomStringConvertible {
    /// At most this many bytes of UTF-8: a libvirt domain name with the hook's `libvirt:` prefix, a Kubernetes
    /// `namespace/name` (63 + 1 + 63 bytes at most) and a VMID fit.
    public static let maximumBytes = 128

    public let value: String

    /// Checks `text` against the rule; the error says what is wrong, with the owner shown escaped.
    public init(_ text: String) throws(OwnerNameError) {
        if let problem = Self.problem(text) { throw OwnerNameError(owner: text, problem: problem) }
        value = text
    }

    public var description: String { value }

    /// What is wrong with `text` as an owner, or `nil` when it is a valid one.
    public static func problem(_ text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.count > maximumBytes { return "it is \(text.utf8.count) bytes long; at most \(maximumBytes) bytes" }
        for scalar in text.unicodeScalars where !isAllowed(scalar) {
            let shown = unicodeName(scalar)
            return "it holds \(shown) (\(kind(of: scalar))): an owner is printable characters and spaces only"
        }
        if text.unicodeScalars.allSatisfy({ $0 == " " }) { return "it is blank" }
        if text.first == " " || text.last == " " { return "it starts or ends with a space" }
        return nil
    }

    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        if scalar.value == 0xFFFD { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    static func kind(of scalar: Unicode.Scalar) -> String {
        switch scalar.properties.generalCategory {
        case .control: "a control character"
        case .format: "a format character"
        case .spaceSeparator: "a space other than U+0020"
        case .lineSeparator, .paragraphSeparator: "a line separator"
        case .privateUse: "a private-use character"
        case .surrogate, .unassigned: "an unassigned code point"
        default: scalar.value == 0xFFFD ? "the replacement character, from invalid UTF-8" : "not printable"
        }
    }
}

/// An owner that breaks ``OwnerName``'s rule: `invalid owner "vm1\n  0000:…": it holds U+000A (a control character)…`.
public struct OwnerNameError: Error, Sendable, Hashable, CustomStringConvertible {
    public var owner: String
    public var problem: String

    public init(owner: String, problem: String) {
        self.owner = owner
        self.problem = problem
    }

    public var description: String {
        "invalid owner \"\(escapedForTerminal(owner))\": \(problem) (1 to \(OwnerName.maximumBytes) bytes of printable characters, such as vm1, libvirt:web1, 101 or default/pod-a)"
    }
}

/// `U+000A`, as the Unicode standard writes a code point.
public func unicodeName(_ scalar: Unicode.Scalar) -> String {
    let digits = String(scalar.value, radix: 16, uppercase: true)
    return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
