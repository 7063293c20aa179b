import Sysfs

/// The PCI Express Device Serial Number of a function (extended capability 0x0003), as `lspci -vv` prints it:
/// eight bytes, most significant first, joined by `-` (`00-11-22-ff-fe-33-44-55`).
public enum PCISerialNumber {
    /// Reads `bus/pci/devices/ADDRESS/config` and walks the extended capability list from offset 0x100.
    /// `nil` when the function has no such capability, or only the first 256 bytes of config space are readable
    /// (conventional PCI, or a reader without `CAP_SYS_ADMIN`).
    public static func read(_ address: PCIAddress, root: SysfsRoot) -> String? {
        guard let config = try? root.readBytes("\(PCIPaths.device(address))/config") else { return nil }
        return parse(config: config)
    }

    /// The serial in a configuration space dump, `nil` when it has none.
    public static func parse(config: [UInt8]) -> String? {
        func dword(_ offset: Int) -> UInt32? {
            guard offset >= 0, offset + 4 <= config.count else { return nil }
            return UInt32(config[offset]) | UInt32(config[offset + 1]) << 8
                | UInt32(config[offset + 2]) << 16 | UInt32(config[offset + 3]) << 24
        }
        var offset = 0x100
        var visited = Set<Int>()
        while offset >= 0x100, !visited.contains(offset), let header = dword(offset), header != 0, header != 0xFFFF_FFFF {
            visited.insert(offset)
            if header & 0xFFFF == 0x0003, let low = dword(offset + 4), let high = dword(offset + 8) {
                let value = UInt64(high) << 32 | UInt64(low)
                return (0..<8).reversed().map { hex(UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)), width: 2) }
                    .joined(separator: "-")
            }
            offset = Int(header >> 20) & 0xFFC
        }
        return nil
    }

    /// Eight bytes of exactly two hex digits each, separated by `-` (as `lspci -vv` prints them) or all by `:`.
    public static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 23 else { return false }
        let separator = bytes[2]
        guard separator == UInt8(ascii: "-") || separator == UInt8(ascii: ":") else { return false }
        for (index, byte) in bytes.enumerated() {
            if index % 3 == 2 {
                guard byte == separator else { return false }
            } else {
                guard isASCIIHexDigit(byte) else { return false }
            }
        }
        return true
    }

    /// Lower case, `-` separators; `0011:22FF...` and `00-11-22-ff-...` compare equal.
    public static func normalise(_ serial: String) -> String {
        let digits = serial.lowercased().filter(\.isHexDigit)
        var groups: [String] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let end = digits.index(index, offsetBy: 2, limitedBy: digits.endIndex) ?? digits.endIndex
            groups.append(String(digits[index..<end]))
            index = end
        }
        return groups.joined(separator: "-")
    }
}
