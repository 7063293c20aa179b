/// Checks the few shapes of malformed TOML on which TOMLKit 0.6.0's bundled toml++ fails an internal `assert` and
/// aborts the process instead of reporting an error (found by fuzzing; reproducers in `Fuzz/Crashes/`):
/// a table header that does not start with a key (`[`, `[é]`, `[=]`, a control byte), and a closing `}` or `]`
/// that closes nothing of its kind (`a = [}]`). Runs before TOMLKit, so such a file is an error with a position
/// and the agent keeps running. Everything else is left to TOMLKit.
public enum TOMLPreflight {
    public struct Problem: Sendable, Equatable {
        public var position: SourcePosition
        public var message: String
    }

    public static func check(_ text: String) -> Problem? {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var line = 1
        var column = 1
        var stack: [Unicode.Scalar] = []
        var atLineStart = true

        func advance() {
            if scalars[index] == "\n" { line += 1; column = 1; atLineStart = true } else { column += 1 }
            index += 1
        }
        func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < scalars.count ? scalars[index + offset] : nil
        }
        /// Skips a string starting at `index` (basic or literal, single- or multi-line).
        func skipString() {
            let quote = scalars[index]
            let triple = peek(1) == quote && peek(2) == quote
            for _ in 0..<(triple ? 3 : 1) { advance() }
            while let scalar = peek() {
                if quote == "\"" && scalar == "\\" { advance(); if peek() != nil { advance() }; continue }
                if scalar == quote && (!triple || (peek(1) == quote && peek(2) == quote)) {
                    for _ in 0..<(triple ? 3 : 1) { advance() }
                    return
                }
                if !triple && scalar == "\n" { return }
                advance()
            }
        }
        func isKeyStart(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "-" || scalar == "\"" || scalar == "'"
        }

        while let scalar = peek() {
            if scalar == " " || scalar == "\t" || scalar == "\r" { advance(); continue }
            if scalar == "\n" { advance(); continue }
            if scalar == "#" {
                while let next = peek(), next != "\n" { advance() }
                continue
            }
            let startsLine = atLineStart
            atLineStart = false
            if scalar == "\"" || scalar == "'" { skipString(); continue }
            if scalar == "[" && startsLine && stack.isEmpty {
                // A table header: [name] or [[name]]; the name must start with a key character.
                let position = SourcePosition(line: line, column: column)
                advance()
                if peek() == "[" { advance() }
                while peek() == " " || peek() == "\t" { advance() }
                guard let first = peek(), isKeyStart(first) else {
                    return Problem(position: position, message: "a table header must start with a key, such as [manage]")
                }
                // Skip to the end of the header, past quoted parts.
                while let next = peek(), next != "\n" {
                    if next == "\"" || next == "'" { skipString(); continue }
                    if next == "#" { break }
                    advance()
                }
                continue
            }
            if scalar == "[" || scalar == "{" { stack.append(scalar); advance(); continue }
            if scalar == "]" || scalar == "}" {
                let opener: Unicode.Scalar = scalar == "]" ? "[" : "{"
                guard stack.last == opener else {
                    return Problem(position: SourcePosition(line: line, column: column),
                                   message: "'\(scalar)' closes nothing here" + (stack.last.map { " (a '\($0)' is still open)" } ?? ""))
                }
                stack.removeLast()
                advance()
                continue
            }
            advance()
        }
        return nil
    }
}
