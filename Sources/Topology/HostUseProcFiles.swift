/// Parsers for the `/proc` files the host-use analysis reads. Pure: text in, values out.
public enum ProcFiles {
    /// One line of `proc/self/mountinfo` (see proc(5)).
    public struct Mount: Sendable, Hashable {
        /// Field 3, `major:minor` of the filesystem's device (`8:1`).
        public var majorMinor: String
        /// Field 5, octal escapes (`\040`) decoded.
        public var mountPoint: String
        public var fsType: String
        /// The mount source after ` - ` and the type (`/dev/sda1`, `/dev/mapper/vg-root`, `rpool/ROOT/pve-1`).
        public var source: String
        /// For a mount of another mount namespace: `mnt:[4026532200] (pid 812)`; `nil` for the reader's own.
        public var namespace: String?
        /// The file it was read from, relative to the proc root (`self/mountinfo`, `812/mountinfo`), as `proc/...`.
        public var file: String

        public init(majorMinor: String, mountPoint: String, fsType: String, source: String,
                    namespace: String? = nil, file: String = "proc/self/mountinfo") {
            self.majorMinor = majorMinor
            self.mountPoint = mountPoint
            self.fsType = fsType
            self.source = source
            self.namespace = namespace
            self.file = file
        }

        /// `/srv` or `/srv in mount namespace mnt:[4026532200] (pid 812)`.
        public var place: String {
            namespace.map { "\(mountPoint) in mount namespace \($0)" } ?? mountPoint
        }
    }

    /// Parses `proc/self/mountinfo`; malformed lines are skipped.
    public static func mounts(_ text: String) -> [Mount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count, dash >= 6 else { return nil }
            return Mount(majorMinor: fields[2], mountPoint: unescape(fields[4]), fsType: fields[dash + 1],
                         source: unescape(fields[dash + 2]))
        }
    }

    /// One line of `proc/swaps`.
    public struct Swap: Sendable, Hashable {
        /// `/dev/sda2`, `/dev/dm-1`, `/swapfile`.
        public var filename: String
        /// `partition` or `file`.
        public var type: String
    }

    /// Parses `proc/swaps` (the header line is skipped).
    public static func swaps(_ text: String) -> [Swap] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2 else { return nil }
            return Swap(filename: unescape(String(fields[0])), type: String(fields[1]))
        }
    }

    /// One route of `proc/net/route` or `proc/net/ipv6_route`.
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public var interface: String
        /// `192.0.2.0/24`, `default`, `2001:db8::/64`.
        public var destination: String
        /// The gateway, `nil` for a directly connected route.
        public var gateway: String?
        /// For IPv4: network and mask, to attribute local addresses to interfaces.
        public var network: UInt32?
        public var mask: UInt32?

        public var description: String {
            gateway.map { "\(destination) via \($0)" } ?? destination
        }
    }

    /// Parses `proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask …`, addresses in
    /// little-endian hex. Routes without `RTF_UP` (flag 0x1) are skipped.
    public static func ipv4Routes(_ text: String) -> [Route] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let gateway = UInt32(fields[2], radix: 16),
                  let flags = UInt32(fields[3], radix: 16), let mask = UInt32(fields[7], radix: 16), flags & 0x1 != 0 else { return nil }
            let network = destination.byteSwapped   // printed as a little-endian word: first octet in the low byte
            let maskValue = mask.byteSwapped
            let prefix = maskValue.nonzeroBitCount
            let name = prefix == 0 ? "default" : "\(ipv4(network))/\(prefix)"
            return Route(interface: String(fields[0]), destination: name, gateway: gateway == 0 ? nil : ipv4(gateway.byteSwapped),
                         network: network, mask: maskValue)
        }
    }

    /// Parses `proc/net/ipv6_route`: `dest plen src splen nexthop metric refcnt use flags iface`. Routes the
    /// kernel makes for every interface with IPv6 (`fe80::/64`, `ff00::/8`, `/128` host routes) and `lo` are skipped:
    /// they say nothing about the host relying on the interface.
    public static func ipv6Routes(_ text: String) -> [Route] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 10, let plen = Int(fields[1], radix: 16) else { return nil }
            let interface = String(fields[9])
            let destination = String(fields[0]).lowercased()
            if interface == "lo" || plen == 128 { return nil }
            if destination.hasPrefix("fe80") && plen == 64 { return nil }
            if destination.hasPrefix("ff") && plen == 8 { return nil }
            guard let dest = ipv6(destination), let gateway = ipv6(String(fields[4])) else { return nil }
            let name = plen == 0 ? "default" : "\(dest)/\(plen)"
            return Route(interface: interface, destination: name, gateway: gateway == "::" ? nil : gateway)
        }
    }

    /// One line of `proc/net/if_inet6`: `address ifindex prefixlen scope flags name`.
    public struct InterfaceAddress: Sendable, Hashable {
        public var interface: String
        /// `2001:db8::10/64`.
        public var address: String
    }

    public static func ipv6Addresses(_ text: String) -> [InterfaceAddress] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 6, let address = ipv6(String(fields[0])), let prefix = Int(fields[2], radix: 16) else { return nil }
            return InterfaceAddress(interface: String(fields[5]), address: "\(address)/\(prefix)")
        }
    }

    /// The local (`/32 host LOCAL`) IPv4 addresses in `proc/net/fib_trie`. The file does not name interfaces;
    /// ``attribute(_:to:)`` finds them from the routes.
    public static func localIPv4Addresses(_ text: String) -> [UInt32] {
        var last: UInt32?
        var result: [UInt32] = []
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingPrefix(while: { $0 == " " || $0 == "|" || $0 == "+" || $0 == "-" })
            if line.contains("|--"), let address = parseIPv4(String(trimmed)) {
                last = address
            } else if trimmed.hasPrefix("/32 host LOCAL"), let address = last {
                if !result.contains(address) { result.append(address) }
            }
        }
        return result
    }

    /// The interface whose connected route (longest prefix, default excluded) contains `address`.
    public static func attribute(_ address: UInt32, to routes: [Route]) -> String? {
        routes.filter { route in
            guard let network = route.network, let mask = route.mask, mask != 0, route.gateway == nil else { return false }
            return address & mask == network & mask
        }
        .max { ($0.mask ?? 0).nonzeroBitCount < ($1.mask ?? 0).nonzeroBitCount }?
        .interface
    }

    // MARK: Addresses

    /// `192.0.2.10` from a host-order value (first octet in the high byte).
    public static func ipv4(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".")
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    /// RFC 5952 text of 32 hex digits (`20010db8000000000000000000000010` → `2001:db8::10`).
    public static func ipv6(_ hexDigits: String) -> String? {
        guard hexDigits.count == 32, hexDigits.allSatisfy(\.isHexDigit) else { return nil }
        let chars = Array(hexDigits)
        let groups = (0..<8).map { UInt16(String(chars[$0 * 4..<$0 * 4 + 4]), radix: 16) ?? 0 }
        // The longest run of two or more zero groups becomes `::`.
        var bestStart = -1, bestLength = 0, index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength { bestStart = index; bestLength = end - index }
                index = end
            } else {
                index += 1
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return text.joined(separator: ":") }
        let head = text[0..<bestStart].joined(separator: ":")
        let tail = text[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// Decodes mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x5C, index + 4 <= bytes.count,
               let value = UInt8(String(decoding: bytes[(index + 1)..<(index + 4)], as: UTF8.self), radix: 8) {
                result.append(value)
                index += 4
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
