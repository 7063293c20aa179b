/// A PCI function address, `domain:bus:slot.function`, as the kernel names devices under `bus/pci/devices`.
///
/// Parsing accepts the full form (`0000:03:01.0`) and the short form (`03:01.0`, domain 0), like `lspci -s`.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var domain: UInt32
    public var bus: UInt8
    public var slot: UInt8
    public var function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, slot: UInt8, function: UInt8) {
        precondition(slot < 32 && function < 8, "PCI slot is 0...31 and function 0...7")
        self.domain = domain
        self.bus = bus
        self.slot = slot
        self.function = function
    }

    /// Parses `DDDD:BB:SS.F` or `BB:SS.F`; `nil` when the text is not such an address.
    public init?(_ text: some StringProtocol) {
        guard let parsed = try? PCIAddress.parse(text) else { return nil }
        self = parsed
    }

    /// Parses an address, or throws an error that says what was wrong with it.
    public static func parse(_ text: some StringProtocol) throws(PCIAddressError) -> PCIAddress {
        // Every uevent and every scanned device name goes through here: well-formed text is read from its UTF-8
        // bytes without allocating; anything else takes the splitting path below, which says what is wrong.
        let fast = text.utf8.withContiguousStorageIfAvailable { fromUTF8($0) }
            ?? Array(text.utf8).withUnsafeBufferPointer { fromUTF8($0) }
        if let address = fast { return address }
        return try parseBySplitting(text)
    }

    /// The reference parser: splits the text into fields and names the first one that is wrong.
    static func parseBySplitting(_ text: some StringProtocol) throws(PCIAddressError) -> PCIAddress {
        let string = String(text)
        let fields = string.split(separator: ":", omittingEmptySubsequences: false)
        let domainText: Substring
        let busText: Substring
        let slotFunction: Substring
        switch fields.count {
        case 2: domainText = "0"; busText = fields[0]; slotFunction = fields[1]
        case 3: domainText = fields[0]; busText = fields[1]; slotFunction = fields[2]
        default: throw PCIAddressError(text: string, problem: "expected [domain:]bus:slot.function, e.g. 0000:03:01.0")
        }
        // Swift's integer parsing takes a leading sign ("+1"); an address is hex digits and separators only.
        if let sign = string.unicodeScalars.first(where: { $0 == "+" || $0 == "-" }) {
            throw PCIAddressError(text: string, problem: "'\(sign)' is not a hex digit, ':' or '.'")
        }
        let parts = slotFunction.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw PCIAddressError(text: string, problem: "expected slot.function after the bus, e.g. 01.0")
        }
        guard domainText.count <= 8, let domain = UInt32(domainText, radix: 16), !domainText.isEmpty else {
            throw PCIAddressError(text: string, problem: "domain '\(domainText)' is not 1 to 8 hex digits")
        }
        guard busText.count <= 2, !busText.isEmpty, let bus = UInt8(busText, radix: 16) else {
            throw PCIAddressError(text: string, problem: "bus '\(busText)' is not 1 or 2 hex digits")
        }
        guard parts[0].count <= 2, !parts[0].isEmpty, let slot = UInt8(parts[0], radix: 16), slot < 32 else {
            throw PCIAddressError(text: string, problem: "slot '\(parts[0])' is not a hex number from 00 to 1f")
        }
        guard parts[1].count == 1, let function = UInt8(parts[1], radix: 16), function < 8 else {
            throw PCIAddressError(text: string, problem: "function '\(parts[1])' is not a digit from 0 to 7")
        }
        return PCIAddress(domain: domain, bus: bus, slot: slot, function: function)
    }

    /// Reads `DDDD:BB:SS.F` or `BB:SS.F` from bytes: `nil` for anything ``parse(_:)`` would not accept as it
    /// stands (then ``parse(_:)`` takes its slower path, which finds the same answer or names the problem).
    static func fromUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> PCIAddress? {
        var values: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        var digits: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var separators: UInt32 = 0 // the separators seen, 8 bits each, first in the low byte
        var field = 0
        for byte in bytes {
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ":"), UInt8(ascii: "."):
                guard field < 3 else { return nil }
                separators |= UInt32(byte) << (8 * UInt32(field))
                field += 1
                continue
            default: return nil
            }
            switch field {
            case 0: values.0 = values.0 << 4 | digit; digits.0 += 1
            case 1: values.1 = values.1 << 4 | digit; digits.1 += 1
            case 2: values.2 = values.2 << 4 | digit; digits.2 += 1
            default: values.3 = values.3 << 4 | digit; digits.3 += 1
            }
            if digits.0 > 8 || digits.1 > 2 || digits.2 > 2 || digits.3 > 2 { return nil }
        }
        let colon = UInt32(UInt8(ascii: ":")), dot = UInt32(UInt8(ascii: "."))
        let domain, bus, slot, function: UInt32
        if field == 3, separators == colon | colon << 8 | dot << 16, digits.0 >= 1, digits.1 >= 1, digits.2 >= 1, digits.3 == 1 {
            (domain, bus, slot, function) = (values.0, values.1, values.2, values.3)
        } else if field == 2, separators == colon | dot << 8, digits.0 <= 2, digits.0 >= 1, digits.1 >= 1, digits.2 == 1 {
            (domain, bus, slot, function) = (0, values.0, values.1, values.2)
        } else {
            return nil
        }
        guard slot < 32, function < 8 else { return nil }
        return PCIAddress(domain: domain, bus: UInt8(bus), slot: UInt8(slot), function: UInt8(function))
    }

    /// The kernel's name for the device: `0000:03:01.0` (lower-case hex, the domain at least 4 digits).
    public var description: String {
        let domainDigits = max(4, (32 - domain.leadingZeroBitCount + 3) / 4)
        return String(unsafeUninitializedCapacity: domainDigits + 8) { buffer in
            let hexDigits: StaticString = "0123456789abcdef"
            var index = 0
            func put(_ value: UInt32, digits: Int) {
                for shift in stride(from: 4 * (digits - 1), through: 0, by: -4) {
                    buffer[index] = hexDigits.utf8Start[Int((value >> UInt32(shift)) & 0xF)]
                    index += 1
                }
            }
            put(domain, digits: domainDigits)
            buffer[index] = UInt8(ascii: ":"); index += 1
            put(UInt32(bus), digits: 2)
            buffer[index] = UInt8(ascii: ":"); index += 1
            put(UInt32(slot), digits: 2)
            buffer[index] = UInt8(ascii: "."); index += 1
            put(UInt32(function), digits: 1)
            return index
        }
    }

    /// One 64-bit word into the hasher instead of four fields: addresses key the graph's dictionaries.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(UInt64(domain) << 32 | UInt64(bus) << 16 | UInt64(slot) << 8 | UInt64(function))
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.slot, lhs.function) < (rhs.domain, rhs.bus, rhs.slot, rhs.function)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try PCIAddress.parse(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a string is not a PCI address.
public struct PCIAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var problem: String
    public var description: String { "invalid PCI address '\(text)': \(problem)" }
}

/// Lower-case hex, zero-padded to `width` digits.
@inlinable
public func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
