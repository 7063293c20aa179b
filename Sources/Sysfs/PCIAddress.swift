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

    /// The kernel's name for the device: `0000:03:01.0`.
    public var description: String {
        "\(hex(domain, width: 4)):\(hex(bus, width: 2)):\(hex(slot, width: 2)).\(String(function, radix: 16))"
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
