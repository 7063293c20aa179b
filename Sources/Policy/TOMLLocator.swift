import Sysfs

/// A line and column in a text file, both counted from 1 (columns in Unicode scalars, as editors show them).
public struct SourcePosition: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// Where each key and value of a TOML document starts, by path (`manage.devices[1]`, `assign[0].owner`,
/// `manage.devices[2].ids`).
///
/// TOMLKit 0.6.0 parses the document but does not expose the source position of values, only of syntax errors;
/// this scanner recovers the positions from the text so that validation errors can name line and column.
/// It assumes a document that TOMLKit has already accepted, and never fails: a construct it does not
/// understand only leaves paths without a position.
///
/// Path syntax: table and key names joined by `.`, array elements and `[[array-of-tables]]` entries as `[index]`.
/// Keys that are not bare (`"a.b"`) appear unquoted in paths.
public struct TOMLLocator: Sendable {
    /// The position of the first character of each key (the key of `[table]` headers: its first name).
    public private(set) var keys: [String: SourcePosition] = [:]
    /// The position of the first character of each value (an array's `[`, a string's quote).
    public private(set) var values: [String: SourcePosition] = [:]
    /// Control characters inside string values (written raw, or as `\n`, `\t`, `\u0000`... escapes), by the
    /// value's path, with the position of the character or its escape: TOMLKit hands strings over as C strings,
    /// so a value is silently cut at `\u0000`, and the other controls would reach the terminal and the journal.
    public private(set) var controlCharacters: [ControlCharacter] = []

    /// A control character found in a string value.
    public struct ControlCharacter: Sendable, Hashable {
        /// The value's path (`manage.devices[0]`).
        public var path: String
        /// Where the character (or the escape that writes it) is.
        public var position: SourcePosition
        public var scalar: Unicode.Scalar
    }

    public init(text: String) {
        var scanner = Scanner(Array(text.unicodeScalars))
        scanner.document(into: &self)
    }

    /// The value's position, else its key's, else the closest enclosing path's.
    public func position(of path: String) -> SourcePosition? {
        if let value = values[path] { return value }
        if let key = keys[path] { return key }
        var parent = path
        while let cut = parent.lastIndex(where: { $0 == "." || $0 == "[" }) {
            parent = String(parent[..<cut])
            if let found = values[parent] ?? keys[parent] { return found }
        }
        return nil
    }

    /// The key's position, else the value's.
    public func keyPosition(of path: String) -> SourcePosition? {
        keys[path] ?? position(of: path)
    }

    fileprivate mutating func record(key path: String, at position: SourcePosition) {
        if keys[path] == nil { keys[path] = position }
    }

    fileprivate mutating func record(control scalar: Unicode.Scalar, in path: String, at position: SourcePosition) {
        controlCharacters.append(ControlCharacter(path: path, position: position, scalar: scalar))
    }

    fileprivate mutating func record(value path: String, at position: SourcePosition) {
        if values[path] == nil { values[path] = position }
    }
}

private struct Scanner {
    let text: [Unicode.Scalar]
    var index = 0
    var line = 1
    var column = 1
    /// The next index of each `[[array]]` path seen so far.
    var arrayTableCounts: [String: Int] = [:]

    init(_ text: [Unicode.Scalar]) { self.text = text }

    var position: SourcePosition { SourcePosition(line: line, column: column) }
    var atEnd: Bool { index >= text.count }
    var current: Unicode.Scalar? { atEnd ? nil : text[index] }
    func peek(_ offset: Int) -> Unicode.Scalar? { index + offset < text.count ? text[index + offset] : nil }

    mutating func advance() {
        guard !atEnd else { return }
        if text[index] == "\n" { line += 1; column = 1 } else { column += 1 }
        index += 1
    }

    mutating func skipSpaces() {
        while let c = current, c == " " || c == "\t" { advance() }
    }

    mutating func skipComment() {
        if current == "#" { while let c = current, c != "\n" { advance() } }
    }

    /// Spaces, comments and newlines (inside arrays).
    mutating func skipWhitespaceAndComments() {
        while let c = current {
            if c == " " || c == "\t" || c == "\r" || c == "\n" { advance() } else if c == "#" { skipComment() } else { break }
        }
    }

    mutating func skipToNextLine() {
        while let c = current, c != "\n" { advance() }
        advance()
    }

    mutating func document(into locator: inout TOMLLocator) {
        var prefix = ""
        while !atEnd {
            skipWhitespaceAndComments()
            guard let c = current else { break }
            if c == "[" {
                let isArray = peek(1) == "["
                advance()
                if isArray { advance() }
                skipSpaces()
                let start = position
                let names = keyNames()
                let resolved = resolve(names, isArrayTable: isArray)
                locator.record(key: resolved, at: start)
                locator.record(value: resolved, at: start)
                prefix = resolved
                skipToNextLine()
            } else {
                keyValue(prefix: prefix, into: &locator)
                skipToNextLine()
            }
        }
    }

    /// `a.b` in a header: indices of enclosing `[[arrays]]` inserted, and a new index for `[[a.b]]` itself.
    mutating func resolve(_ names: [String], isArrayTable: Bool) -> String {
        var path = ""
        var plain = ""
        for (offset, name) in names.enumerated() {
            plain = plain.isEmpty ? name : plain + "." + name
            path = path.isEmpty ? name : path + "." + name
            let isLast = offset == names.count - 1
            if isLast && isArrayTable {
                let next = arrayTableCounts[plain, default: 0]
                arrayTableCounts[plain] = next + 1
                path += "[\(next)]"
            } else if let count = arrayTableCounts[plain], count > 0 {
                path += "[\(count - 1)]"
            }
        }
        return path
    }

    /// A dotted key: bare, "basic" or 'literal' names separated by dots.
    mutating func keyNames() -> [String] {
        var names: [String] = []
        while let c = current {
            if c == "\"" || c == "'" {
                names.append(quotedKey(c))
            } else {
                var name = ""
                while let d = current, d.properties.isAlphabetic || ("0"..."9").contains(d) || d == "_" || d == "-" {
                    name.unicodeScalars.append(d)
                    advance()
                }
                if name.isEmpty { break }
                names.append(name)
            }
            skipSpaces()
            if current == "." { advance(); skipSpaces() } else { break }
        }
        return names
    }

    mutating func quotedKey(_ quote: Unicode.Scalar) -> String {
        advance()
        var name = ""
        while let c = current, c != quote, c != "\n" {
            if quote == "\"" && c == "\\" { advance() }
            if let d = current { name.unicodeScalars.append(d) }
            advance()
        }
        advance()
        return name
    }

    mutating func keyValue(prefix: String, into locator: inout TOMLLocator) {
        let start = position
        let names = keyNames()
        guard !names.isEmpty else { return }
        let path = join(prefix, names.joined(separator: "."))
        locator.record(key: path, at: start)
        skipSpaces()
        guard current == "=" else { return }
        advance()
        skipSpaces()
        value(path: path, into: &locator)
        skipSpaces()
        skipComment()
    }

    func join(_ prefix: String, _ key: String) -> String {
        prefix.isEmpty ? key : prefix + "." + key
    }

    mutating func value(path: String, into locator: inout TOMLLocator) {
        locator.record(value: path, at: position)
        switch current {
        case "\"", "'": string(path: path, into: &locator)
        case "[": array(path: path, into: &locator)
        case "{": inlineTable(path: path, into: &locator)
        default:
            while let c = current, c != ",", c != "]", c != "}", c != "\n", c != "#", c != "\r" {
                // A date-time may hold one space between date and time; anything else ends the value.
                if c == " " || c == "\t" {
                    if let next = peek(1), ("0"..."9").contains(next), c == " " { advance(); continue }
                    break
                }
                advance()
            }
        }
    }

    mutating func string(path: String, into locator: inout TOMLLocator) {
        guard let quote = current else { return }
        let triple = peek(1) == quote && peek(2) == quote
        for _ in 0..<(triple ? 3 : 1) { advance() }
        // A newline right after the opening quotes of a multi-line string is not part of the value.
        if triple && current == "\r" && peek(1) == "\n" { advance() }
        if triple && current == "\n" { advance() }
        while let c = current {
            if triple {
                if c == quote && peek(1) == quote && peek(2) == quote {
                    advance(); advance(); advance()
                    // Up to two more quotes may belong to the content.
                    while current == quote { advance() }
                    return
                }
            } else if c == quote || c == "\n" {
                break
            }
            let start = position
            if quote == "\"" && c == "\\" {
                advance()
                if let escaped = escape(), isControl(escaped) { locator.record(control: escaped, in: path, at: start) }
                continue
            }
            if isControl(c) { locator.record(control: c, in: path, at: start) }
            advance()
        }
        advance()
    }

    /// After a backslash: the character an escape stands for (`\n`, `\u0000`, `\U0000001B`), consuming it;
    /// `nil` for a line-ending backslash of a multi-line string or an escape TOMLKit would refuse anyway.
    mutating func escape() -> Unicode.Scalar? {
        guard let c = current else { return nil }
        if c == " " || c == "\t" || c == "\r" || c == "\n" {
            // A line-ending backslash: the line break and the whitespace after it are not part of the value.
            while let d = current, d == " " || d == "\t" || d == "\r" || d == "\n" { advance() }
            return nil
        }
        let simple: [Unicode.Scalar: Unicode.Scalar] = ["b": "\u{08}", "t": "\t", "n": "\n", "f": "\u{0C}", "r": "\r", "e": "\u{1B}"]
        if let scalar = simple[c] { advance(); return scalar }
        if c == "u" || c == "U" {
            let count = c == "u" ? 4 : 8
            advance()
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let d = current, let digit = UInt32(String(d), radix: 16) else { return nil }
                value = value &* 16 &+ digit
                advance()
            }
            return Unicode.Scalar(value)
        }
        advance()
        return nil
    }

    /// What may not be in a policy string: the characters ``escapedForTerminal(_:)`` escapes, but the backslash.
    func isControl(_ scalar: Unicode.Scalar) -> Bool { isTerminalControl(scalar) }

    mutating func array(path: String, into locator: inout TOMLLocator) {
        advance()
        var element = 0
        while true {
            skipWhitespaceAndComments()
            guard let c = current else { return }
            if c == "]" { advance(); return }
            if c == "," { advance(); continue }
            let before = index
            value(path: "\(path)[\(element)]", into: &locator)
            element += 1
            if index == before { advance() }   // malformed text: always make progress
        }
    }

    mutating func inlineTable(path: String, into locator: inout TOMLLocator) {
        advance()
        while true {
            skipSpaces()
            guard let c = current, c != "\n" else { return }
            if c == "}" { advance(); return }
            if c == "," { advance(); continue }
            let start = position
            let names = keyNames()
            guard !names.isEmpty else { advance(); continue }
            let key = join(path, names.joined(separator: "."))
            locator.record(key: key, at: start)
            skipSpaces()
            if current == "=" {
                advance()
                skipSpaces()
                let before = index
                value(path: key, into: &locator)
                if index == before { advance() }   // malformed text: always make progress
            }
        }
    }
}
