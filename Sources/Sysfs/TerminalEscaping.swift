/// Text from outside the program (sysfs attributes, uevents, the policy, the journal, owners) made safe to show
/// on a terminal, as systemd's `cescape()` does for its tools: a control character, which could move the cursor,
/// recolour the screen or forge a line of output, is shown as a C escape instead of being passed through.
///
/// Escaped: `\` itself (so an escape in the output is never ambiguous), the C0 controls and DEL (`\n`, `\t`, `\e`,
/// otherwise `\xNN`), the C1 controls (U+0080–U+009F, `\u0085`), the line and paragraph separators and the
/// bidirectional-text controls (U+202A–U+202E, U+2066–U+2069: they reorder what follows on the line), and U+FFFD,
/// which stands for invalid UTF-8 (use ``escapedForTerminal(bytes:)`` to show the bytes themselves).
/// Everything else, letters of any script included, is kept. JSON output does not need this: it escapes by itself.
public func escapedForTerminal(_ text: String) -> String {
    // The common case, printable ASCII without a backslash, is returned as it is.
    if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) { return text }
    var result = ""
    result.reserveCapacity(text.utf8.count + 8)
    for scalar in text.unicodeScalars { appendEscaped(scalar, to: &result) }
    return result
}

/// Bytes that should be UTF-8 (a sysfs attribute, a journal line) made safe to show: as
/// ``escapedForTerminal(_:)``, and each byte that is not part of valid UTF-8 shown as `\xNN`.
public func escapedForTerminal(bytes: some Collection<UInt8>) -> String {
    let bytes = Array(bytes)
    var result = ""
    var index = 0
    while index < bytes.count {
        let lead = bytes[index]
        let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead < 0xE0 ? 2 : lead >= 0xE0 && lead < 0xF0 ? 3
            : lead >= 0xF0 && lead < 0xF5 ? 4 : 0
        if length > 0, index + length <= bytes.count,
           let decoded = String(validating: bytes[index..<index + length], as: UTF8.self),
           let scalar = decoded.unicodeScalars.first {
            appendEscaped(scalar, to: &result)
            index += length
        } else {
            result += "\\x" + hex(lead, width: 2)
            index += 1
        }
    }
    return result
}

/// Whether ``escapedForTerminal(_:)`` shows `scalar` as an escape: a C0 or C1 control, DEL, a line or paragraph
/// separator, a bidirectional-text control or U+FFFD (the backslash, escaped only to keep escapes unambiguous, is not
/// counted).
public func isTerminalControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0xFFFD: true
    default: false
    }
}

private func appendEscaped(_ scalar: Unicode.Scalar, to result: inout String) {
    switch scalar.value {
    case 0x5C: result += "\\\\"
    case 0x07: result += "\\a"
    case 0x08: result += "\\b"
    case 0x09: result += "\\t"
    case 0x0A: result += "\\n"
    case 0x0B: result += "\\v"
    case 0x0C: result += "\\f"
    case 0x0D: result += "\\r"
    case 0x1B: result += "\\e"
    case 0x00..<0x20, 0x7F: result += "\\x" + hex(scalar.value, width: 2)
    case 0x80..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0xFFFD:
        result += "\\u" + hex(scalar.value, width: 4)
    default: result.unicodeScalars.append(scalar)
    }
}
