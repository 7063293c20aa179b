import Sysfs

/// Pure parsers for the text of PCI sysfs attributes. Each returns `nil` for text the kernel would not write.
public enum AttributeParsers {
    /// `0x8086` (exactly `digits` hex digits after `0x`, as `vendor`, `device` and `class` are printed).
    public static func hexID(_ text: String, digits: Int) -> UInt32? {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("0x"), trimmed.utf8.count == digits + 2,
              trimmed.dropFirst(2).unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit) else { return nil }
        return UInt32(trimmed.dropFirst(2), radix: 16)
    }

    /// `driver_override`: `(null)` or empty means unset.
    public static func driverOverride(_ text: String) -> String? {
        let trimmed = text.trimmingWhitespace()
        return trimmed.isEmpty || trimmed == "(null)" ? nil : String(trimmed)
    }

    /// A decimal count such as `sriov_numvfs`.
    public static func count(_ text: String) -> Int? {
        Int(text.trimmingWhitespace()).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// `0` or `1`.
    public static func flag(_ text: String) -> Bool? {
        switch text.trimmingWhitespace() {
        case "0": return false
        case "1": return true
        default: return nil
        }
    }

    /// The last non-empty component of a path (`e1000` of `../../../bus/pci/drivers/e1000`): what
    /// `split(separator: "/").last` gives, without splitting the whole path. `nil` when there is none.
    public static func lastPathComponent(_ path: String) -> Substring? {
        let bytes = path.utf8
        var end = bytes.endIndex
        while end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: "/") { end = bytes.index(before: end) }
        guard end > bytes.startIndex else { return nil }
        let start = bytes[..<end].lastIndex(of: UInt8(ascii: "/")).map(bytes.index(after:)) ?? bytes.startIndex
        return path[start..<end]
    }

    /// The group number at the end of an `iommu_group` link target (`../../../kernel/iommu_groups/7`).
    public static func groupNumber(linkTarget: String) -> Int? {
        guard let last = linkTarget.split(separator: "/").last, let number = Int(last), number >= 0 else { return nil }
        return number
    }

    /// The upstream bridge from the device's canonical path
    /// (`../../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0` gives `0000:00:1c.0`).
    public static func parentBridge(devicePathTarget: String) -> PCIAddress? {
        let components = devicePathTarget.split(separator: "/")
        guard components.count >= 2 else { return nil }
        return PCIAddress(components[components.count - 2])
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, newlines and NULs.
    func trimmingWhitespace() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "\0" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
