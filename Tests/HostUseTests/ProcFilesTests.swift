import Testing
import Topology

@Suite("Parsing /proc files")
struct ProcFilesTests {
    @Test("IPv6 addresses in RFC 5952 form", arguments: [
        ("20010db8000000000000000000000010", "2001:db8::10"),
        ("00000000000000000000000000000001", "::1"),
        ("00000000000000000000000000000000", "::"),
        ("fe800000000000005054fffe12345678", "fe80::5054:fffe:1234:5678"),
        ("20010db8000000010000000000000001", "2001:db8:0:1::1"),
        ("20010db8000100010001000100010001", "2001:db8:1:1:1:1:1:1"),
    ])
    func ipv6(_ hex: String, _ text: String) {
        #expect(ProcFiles.ipv6(hex) == text)
    }

    @Test("IPv4 routes: little-endian words, default and gateway")
    func routes() {
        let routes = ProcFiles.ipv4Routes("""
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
            eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            eth1\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0
            """)
        #expect(routes.map(\.description) == ["default via 192.168.2.1", "192.168.2.0/24"])
        #expect(ProcFiles.attribute(0xC0A8_020A, to: routes) == "eth0")
        #expect(ProcFiles.attribute(0x0A00_0001, to: routes) == nil)
    }

    @Test("mountinfo: optional fields, escapes")
    func mountinfo() {
        let mounts = ProcFiles.mounts("""
            36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue
            bad line
            """)
        #expect(mounts == [ProcFiles.Mount(majorMinor: "98:0", mountPoint: "/mnt 2", fsType: "ext3", source: "/dev/root")])
    }
}

@Suite struct InterfaceAddressesTests {
    /// Asks this machine's kernel (rtnetlink, read only) for its IPv4 addresses: every answer is an address with
    /// its prefix length, and loopback is left out.
    @Test func theKernelNamesEachAddressWithItsPrefix() throws {
        let addresses = try #require(InterfaceAddresses.ipv4())
        for (interface, list) in addresses {
            #expect(!interface.isEmpty)
            for address in list {
                let parts = address.split(separator: "/")
                #expect(parts.count == 2 && parts[0].split(separator: ".").count == 4 && Int(parts[1]).map { (0...32).contains($0) } == true, "\(interface): \(address)")
                #expect(!address.hasPrefix("127."))
            }
        }
    }
}
