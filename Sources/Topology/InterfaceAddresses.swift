#if canImport(Glibc)
import Glibc
#endif

/// IPv4 addresses per network interface, asked of the kernel over rtnetlink (`RTM_GETADDR` dump on a
/// `NETLINK_ROUTE` socket), which names the interface of every address whether the interface is up or down.
/// `/proc/net/fib_trie` lists local addresses too, but ties them to an interface only through a route, and an
/// interface that is down has none.
///
/// Only for the running host's own network namespace: a snapshot's or a test's proc root is read from files.
public enum InterfaceAddresses {
    /// `interface name → ["192.0.2.7/24", …]`, or `nil` when the kernel could not be asked.
    public static func ipv4() -> [String: [String]]? {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // struct nlmsghdr (16 bytes) + struct ifaddrmsg (8 bytes): RTM_GETADDR (22), NLM_F_REQUEST | NLM_F_DUMP.
        var request = [UInt8](repeating: 0, count: 24)
        func put32(_ value: UInt32, at offset: Int) { for i in 0..<4 { request[offset + i] = UInt8((value >> (8 * UInt32(i))) & 0xFF) } }
        func put16(_ value: UInt16, at offset: Int) { request[offset] = UInt8(value & 0xFF); request[offset + 1] = UInt8(value >> 8) }
        put32(24, at: 0)
        put16(22, at: 4)
        put16(0x1 | 0x300, at: 6)
        put32(1, at: 8)
        request[16] = UInt8(AF_INET)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return nil }

        var result: [String: [String]] = [:]
        var buffer = [UInt8](repeating: 0, count: 32768)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return count == 0 ? result : nil }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(read32(buffer, offset))
                let type = read16(buffer, offset + 4)
                guard length >= 16, offset + length <= count else { return result }
                if type == 3 { return result }          // NLMSG_DONE
                if type == 2 { return nil }             // NLMSG_ERROR
                if type == 20, length >= 24 {           // RTM_NEWADDR
                    let prefix = buffer[offset + 17]
                    var label: String?
                    var address: String?
                    var attribute = offset + 24
                    while attribute + 4 <= offset + length {
                        let attributeLength = Int(read16(buffer, attribute))
                        let attributeType = read16(buffer, attribute + 2)
                        guard attributeLength >= 4, attribute + attributeLength <= offset + length else { break }
                        let data = Array(buffer[(attribute + 4)..<(attribute + attributeLength)])
                        switch attributeType {
                        case 2 where data.count == 4, 1 where data.count == 4 && address == nil: // IFA_LOCAL, IFA_ADDRESS
                            address = data.map(String.init).joined(separator: ".")
                        case 3:                                                       // IFA_LABEL
                            label = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                        default:
                            break
                        }
                        attribute += (attributeLength + 3) & ~3
                    }
                    if let label, let address, !address.hasPrefix("127.") {
                        result[label, default: []].append("\(address)/\(prefix)")
                    }
                }
                offset += (length + 3) & ~3
            }
        }
    }

    private static func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private static func read16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }
}
