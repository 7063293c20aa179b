import Policy
import Sysfs
import Testing
import Topology

private func device(_ address: String, _ vendor: UInt16, _ deviceID: UInt16, class classCode: UInt32,
                    physfn: String? = nil, group: Int? = nil) -> PCIDevice {
    PCIDevice(address: PCIAddress(address)!, vendorID: vendor, deviceID: deviceID, classCode: classCode,
              iommuGroup: group, physfn: physfn.flatMap { PCIAddress($0) })
}

@Suite("Policy matching")
struct PolicyMatchingTests {
    static let policy = try! Policy.parse(text: """
        [manage]
        devices = ["0000:03:01.0", { address = "0000:03:02.0", ids = "1af4:1000" }, { address = "05:00.0", serial = "00-11-22-FF-FE-33-44-55" }]
        ids = ["8086:10d3"]
        classes = ["0c03"]
        vfs_of = ["0000:02:00.0"]

        [protect]
        devices = ["0000:00:1f.2"]
        ids = ["8086:10d3"]
        classes = ["0601"]

        [[assign]]
        device = "03:01.0"
        owner = "vm1"
        """, file: "policy.toml")
    static let graph = TopologyGraph(devices: [])

    @Test("Each allowlist rule kind admits its device and names itself", arguments: [
        ("0000:03:01.0", UInt16(0x8086), UInt16(0x100e), UInt32(0x020000), nil as String?, "manage.devices[0]"),
        ("0000:03:02.0", 0x1af4, 0x1000, 0x020000, nil, "manage.devices[1]"),
        ("0000:00:14.0", 0x8086, 0xa36d, 0x0c0330, nil, "manage.classes[0]"),
        ("0000:02:00.1", 0x1b36, 0x0010, 0x010802, "0000:02:00.0", "manage.vfs_of[0]"),
    ])
    func managed(_ address: String, _ vendor: UInt16, _ id: UInt16, _ classCode: UInt32, _ physfn: String?, _ rule: String) {
        let candidate = device(address, vendor, id, class: classCode, physfn: physfn)
        #expect(Self.policy.isManaged(candidate, in: Self.graph)?.path == rule)
        #expect(Self.policy.verdict(for: candidate, in: Self.graph) == .managed(Self.policy.isManaged(candidate, in: Self.graph)!))
        #expect(Self.policy.verdict(for: candidate, in: Self.graph).mayWrite)
    }

    @Test("[protect] wins over a matching allowlist rule, and names its rule")
    func protectWins() {
        let e1000e = device("0000:01:00.0", 0x8086, 0x10d3, class: 0x020000)
        #expect(Self.policy.isManaged(e1000e, in: Self.graph) == nil)
        #expect(Self.policy.isProtected(e1000e)?.path == "protect.ids[0]")
        let verdict = Self.policy.verdict(for: e1000e, in: Self.graph)
        #expect(verdict.name == "protected" && !verdict.mayWrite)
        #expect(verdict.description.hasPrefix("protected by protect.ids[0] (ids 8086:10d3, line 9)"))
    }

    @Test("A device at a managed address with other ids is outside the allowlist, and says why")
    func idsMismatch() {
        let swapped = device("0000:03:02.0", 0x8086, 0x100e, class: 0x020000)
        #expect(Self.policy.isManaged(swapped, in: Self.graph) == nil)
        let verdict = Self.policy.verdict(for: swapped, in: Self.graph)
        #expect(verdict.name == "outside-allowlist")
        #expect(verdict.description.contains("expected ids 1af4:1000, the device has 8086:100e"))
    }

    @Test("A serial check matches only the device with that serial")
    func serialCheck() {
        let nic = device("0000:05:00.0", 0x15b3, 0x1017, class: 0x020000)
        #expect(Self.policy.isManaged(nic, in: Self.graph, serial: "00-11-22-ff-fe-33-44-55")?.path == "manage.devices[2]")
        #expect(Self.policy.isManaged(nic, in: Self.graph, serial: "00-11-22-ff-fe-33-44-56") == nil)
        #expect(Self.policy.isManaged(nic, in: Self.graph, serial: nil) == nil)
    }

    @Test("A protected address stays protected even if its identity changed")
    func protectedByAddressAlone() {
        let other = device("0000:00:1f.2", 0x1022, 0x7901, class: 0x010601)
        #expect(Self.policy.isProtected(other)?.path == "protect.devices[0]")
    }

    @Test("Class prefixes of 2, 4 and 6 digits", arguments: [("02", true), ("0200", true), ("020000", true), ("0201", false), ("020001", false), ("03", false)])
    func classPrefixes(_ prefix: String, _ matches: Bool) {
        #expect(ClassPrefix(prefix)!.matches(0x020000) == matches)
    }

    @Test("Without an allowlist every device is monitor-only and nothing may be written")
    func monitorOnly() throws {
        let policy = try Policy.parse(text: "[protect]\ndevices = [\"00:1f.2\"]\n", file: "p.toml")
        let nic = device("0000:03:01.0", 0x8086, 0x100e, class: 0x020000)
        #expect(policy.verdict(for: nic, in: Self.graph) == .monitorOnly)
        #expect(policy.isManaged(nic, in: Self.graph) == nil)
    }

    @Test("Static assignments find their device")
    func assignment() {
        let nic = device("0000:03:01.0", 0x8086, 0x100e, class: 0x020000)
        #expect(Self.policy.assignment(for: nic)?.owner == "vm1")
        #expect(Self.policy.assignment(for: device("0000:03:02.0", 0x1af4, 0x1000, class: 0x020000)) == nil)
    }

    @Test("The PCI serial number is read from the Device Serial Number extended capability")
    func serialFromConfig() {
        var config = [UInt8](repeating: 0, count: 4096)
        // 0x100: AER (id 0x0001), next at 0x140; 0x140: DSN (id 0x0003), no next.
        config[0x100] = 0x01; config[0x102] = 0x01; config[0x103] = 0x14
        config[0x140] = 0x03; config[0x142] = 0x01
        let serial: [UInt8] = [0x55, 0x44, 0x33, 0xfe, 0xff, 0x22, 0x11, 0x00]
        config.replaceSubrange(0x144..<0x14c, with: serial)
        #expect(PCISerialNumber.parse(config: config) == "00-11-22-ff-fe-33-44-55")
        #expect(PCISerialNumber.parse(config: Array(config[0..<256])) == nil)
    }
}
