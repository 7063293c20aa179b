/// Finds a key that appears twice in one JSON object, which Foundation's `JSONSerialization` and `JSONDecoder`
/// accept silently (the last value wins): `{"op":"status","op":"assign"}` must not mean whatever the last key says.
///
/// Runs on text that `JSONSerialization` has already accepted, so it only tracks strings, objects and arrays. Keys
/// are compared as Foundation compares them, by UTF-16 code units after escapes are decoded (`"op"` and
/// `"\u006fp"` are the same key). Iterative: nesting depth costs heap, not stack.
enum JSONDuplicateKeys {
    /// The first key that repeats within one object, decoded; `nil` when every object's keys are distinct.
    static func first(in bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        // One entry per open container: the keys seen so far for an object, nil for an array.
        var containers: [Set<[UInt16]>?] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                containers.append([])
                expectingKey = true
                index += 1
            case UInt8(ascii: "["):
                containers.append(nil)
                expectingKey = false
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !containers.isEmpty { containers.removeLast() }
                expectingKey = false
                index += 1
            case UInt8(ascii: ","):
                if let last = containers.last { expectingKey = last != nil }
                index += 1
            case UInt8(ascii: "\""):
                let (units, end) = decodeString(bytes, from: index)
                if expectingKey, let last = containers.indices.last, var keys = containers[last] {
                    if !keys.insert(units).inserted { return String(decoding: units, as: UTF16.self) }
                    containers[last] = keys
                }
                expectingKey = false
                index = end
            default:
                index += 1
            }
        }
        return nil
    }

    /// The UTF-16 code units of the string starting at the quote at `start`, and the index after its closing quote.
    private static func decodeString(_ bytes: [UInt8], from start: Int) -> ([UInt16], Int) {
        var units: [UInt16] = []
        var raw: [UInt8] = []
        func flush() {
            if !raw.isEmpty { units += String(decoding: raw, as: UTF8.self).utf16; raw.removeAll() }
        }
        var index = start + 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { flush(); return (units, index + 1) }
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                flush()
                let escaped = bytes[index + 1]
                index += 2
                switch escaped {
                case UInt8(ascii: "u"):
                    var value: UInt16 = 0
                    for offset in 0..<4 where index + offset < bytes.count {
                        value = value &* 16 &+ UInt16(hexValue(bytes[index + offset]))
                    }
                    units.append(value)
                    index += 4
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                default: units.append(UInt16(escaped))   // \" \\ \/
                }
                continue
            }
            raw.append(byte)
            index += 1
        }
        flush()
        return (units, index)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: 0
        }
    }
}
