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
        case "\"", "'": string()
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

    mutating func string() {
        guard let quote = current else { return }
        if peek(1) == quote && peek(2) == quote {
            advance(); advance(); advance()
            while !atEnd {
                if quote == "\"" && current == "\\" { advance(); advance(); continue }
                if current == quote && peek(1) == quote && peek(2) == quote {
                    advance(); advance(); advance()
                    // Up to two more quotes may belong to the content.
                    while current == quote { advance() }
                    return
                }
                advance()
            }
            return
        }
        advance()
        while let c = current, c != quote, c != "\n" {
            if quote == "\"" && c == "\\" { advance() }
            advance()
        }
        advance()
    }

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
