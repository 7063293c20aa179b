import Policy
import Sysfs
import Testing
import Topology

/// What the policy refuses because a typo or a hostile string would otherwise pass: short ids that used to be
/// zero-padded, strings cut at `\u0000`, control characters, owners outside the one rule, an `[[assign]]` of a
/// protected device.
@Suite("Policy input rules")
struct PolicyInputRulesTests {
    @Test("Short hex ids are refused with file:line, never zero-padded", arguments: [
        ("[manage]\nids = [\"8086:10d\"]\n", 2, "manage.ids[0]"),
        ("[manage]\nids = [\"1b36:10\"]\n", 2, "manage.ids[0]"),
        ("[manage]\nids = [\"8086:1\"]\n", 2, "manage.ids[0]"),
        ("# typo: meant 100e\n[protect]\nids = [\"8086:100\"]\n", 3, "protect.ids[0]"),
        ("[protect]\ndevices = [{ address = \"0000:00:1f.2\", ids = \"8086:2922:1\" }]\n", 2, "protect.devices[0].ids"),
        ("[[assign]]\nids = \"08086:100e\"\nowner = \"vm1\"\n", 2, "assign[0].ids"),
        ("[manage]\nids = [\"８０８６:100e\"]\n", 2, "manage.ids[0]"),
    ])
    func shortIDs(text: String, line: Int, path: String) {
        let errors = parseErrors(text)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.kind == .invalidIDs)
        #expect(errors.first?.position?.line == line)
        #expect(errors.first?.path == path)
        #expect(errors.first?.description.hasPrefix("policy.toml:\(line):") == true)
    }

    @Test("vendor:device:subvendor:subdevice checks the subsystem ids too")
    func subsystemIDs() throws {
        let policy = try Policy.parse(text: "[protect]\nids = [\"8086:10d3:8086:a01f\"]\n", file: "policy.toml")
        let match = PCIDevice(address: PCIAddress("0000:01:00.0")!, vendorID: 0x8086, deviceID: 0x10d3,
                              subsystemVendorID: 0x8086, subsystemDeviceID: 0xa01f)
        let other = PCIDevice(address: PCIAddress("0000:01:00.0")!, vendorID: 0x8086, deviceID: 0x10d3,
                              subsystemVendorID: 0x8086, subsystemDeviceID: 0x0001)
        #expect(policy.isProtected(match) != nil)
        #expect(policy.isProtected(other) == nil)
        #expect(policy.protect[0].description.contains("ids 8086:10d3:8086:a01f"))
    }

    @Test("Addresses are written in full; serials as lspci prints them", arguments: [
        ("[manage]\ndevices = [\"3:1.0\"]\n", PolicyError.Kind.invalidAddress, "write it in full"),
        ("[manage]\ndevices = [\"0:03:01.0\"]\n", .invalidAddress, "write it in full"),
        ("[manage]\nvfs_of = [\"02:0.0\"]\n", .invalidAddress, "write it in full"),
        ("[manage]\ndevices = [{ address = \"0000:03:01.0\", serial = \"0011-22ff-fe33-4455\" }]\n", .invalidValue, "invalid serial number"),
        ("[manage]\ndevices = [{ address = \"0000:03:01.0\", serial = \"00-11-22-ff-fe-33-44-5\" }]\n", .invalidValue, "invalid serial number"),
        ("[manage]\ndevices = [{ address = \"0000:03:01.0\", serial = \"00-11:22-ff-fe-33-44-55\" }]\n", .invalidValue, "invalid serial number"),
    ])
    func exactForms(text: String, kind: PolicyError.Kind, fragment: String) {
        let errors = parseErrors(text)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.kind == kind)
        #expect(errors.first?.message.contains(fragment) == true, "\(errors)")
    }

    @Test("Full forms still parse") func fullForms() throws {
        let policy = try Policy.parse(text: """
            [manage]
            devices = ["0000:03:01.0", "03:02.0", { address = "10000:00:02.0", serial = "00:11:22:FF:FE:33:44:55" }]
            classes = ["02", "0x0200", "010601"]
            """, file: "policy.toml")
        #expect(policy.manage.count == 6)
    }

    /// The issue's reproduction: TOMLKit hands strings over as C strings, so this address validated as 0000:03:01.0.
    @Test("A string cut at \\u0000 is an error at the escape's line and column")
    func nulCutsNothing() {
        let text = "[protect]\ndevices = [\"0000:00:1f.2\"]\n[manage]\ndevices = [\"0000:03:01.0\\u0000 is NOT the SATA controller\"]\n"
        let errors = parseErrors(text)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.kind == .controlCharacter)
        #expect(errors.first?.path == "manage.devices[0]")
        #expect(errors.first?.position == SourcePosition(line: 4, column: 25))
        #expect(errors.first?.description.hasPrefix("policy.toml:4:25: manage.devices[0]: the string holds \\x00 (U+0000)") == true, "\(errors)")
    }

    @Test("Control characters in any string are errors with file:line:column", arguments: [
        ("[[assign]]\ndevice = \"0000:03:01.0\"\nowner = \"vm1\\n  0000:00:1f.2: set driver_override \\u001b[31m\"\n", "assign[0].owner", 3, 13),
        ("[manage]\nids = ['8086:100e\t']\n", "manage.ids[0]", 2, 18),
        ("[manage]\nclasses = [\"02\\u001b\"]\n", "manage.classes[0]", 2, 15),
        ("[[sriov]]\npf = \"0000:02:00.0\"\nnumvfs = 2\nvf_driver = \"vfio-pci\\u0085\"\n", "sriov[0].vf_driver", 4, 22),
        ("[manage]\ndevices = [{ address = \"0000:03:01.0\", serial = \"\"\"00-11-22-ff-fe-33-44-55\n\"\"\" }]\n", "manage.devices[0].serial", 2, 75),
        ("[manage]\ndevices = [\"0000:03:01.0\\U0000202E\"]\n", "manage.devices[0]", 2, 25),
    ])
    func controlCharacters(text: String, path: String, line: Int, column: Int) {
        let errors = parseErrors(text)
        let control = errors.filter { $0.kind == .controlCharacter }
        #expect(!control.isEmpty, "\(errors)")
        #expect(control.first?.path == path)
        #expect(control.first?.position == SourcePosition(line: line, column: column), "\(errors)")
        for error in errors { #expect(!error.description.contains(where: { $0.asciiValue.map { $0 < 0x20 } ?? false }), "\(error)") }
    }

    @Test("Owners follow the one rule: printable, not blank, at most 128 bytes", arguments: [
        ("   ", "blank"), ("vm1 ", "starts or ends with a space"), (String(repeating: "v", count: 129), "129 bytes"),
        ("vm\u{00A0}1", "U+00A0"), ("vm\u{200B}1", "U+200B"), ("vm\u{7F}", "U+007F"),
    ])
    func ownersRefused(owner: String, fragment: String) {
        let text = "[[assign]]\ndevice = \"0000:03:01.0\"\nowner = \"\(owner.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u\(hex($0.value, width: 4))" : String($0) }.joined())\"\n"
        let errors = parseErrors(text)
        #expect(!errors.isEmpty)
        #expect(errors.contains { $0.path == "assign[0].owner" && $0.message.contains(fragment) } || errors.contains { $0.kind == .controlCharacter }, "\(errors)")
    }

    @Test("Owners from libvirt, Proxmox and Kubernetes fit", arguments: [
        "vm1", "libvirt:web-01.example", "101", "default/pod-a", "kube-system/nvidia-device-plugin-daemonset-x7k2p",
        "libvirt:Windows 11 (gaming)", "libvirt:домен", String(repeating: "a", count: 128),
    ])
    func ownersAccepted(owner: String) throws {
        let policy = try Policy.parse(text: "[[assign]]\ndevice = \"0000:03:01.0\"\nowner = \"\(owner)\"\n", file: "policy.toml")
        #expect(policy.assignments.first?.owner == owner)
        #expect(OwnerName.problem(owner) == nil)
    }

    @Test("An [[assign]] by ids of a protected ids rule is refused, naming both lines")
    func assignByProtectedIDs() {
        let text = "[protect]\nids = [\"8086:2922\"]\n\n[[assign]]\nids = \"8086:2922\"\nowner = \"vm1\"\n"
        let errors = parseErrors(text)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.position?.line == 5)
        #expect(errors.first?.message.contains("protected by protect.ids[0] (ids 8086:2922, line 2)") == true, "\(errors)")
    }

    @Test("Against a tree: an [[assign]] whose device or group member is protected names both lines")
    func protectedAssignmentsInGraph() throws {
        let policy = try Policy.parse(text: """
            [protect]
            classes = ["0106"]

            [[assign]]
            device = "0000:00:1f.0"
            owner = "vm1"

            [[assign]]
            ids = "1af4:1000"
            owner = "vm2"
            """, file: "policy.toml")
        let graph = TopologyGraph(devices: [
            PCIDevice(address: PCIAddress("0000:00:1f.0")!, vendorID: 0x8086, deviceID: 0x2918, classCode: 0x060100, iommuGroup: 7),
            PCIDevice(address: PCIAddress("0000:00:1f.2")!, vendorID: 0x8086, deviceID: 0x2922, classCode: 0x010601, iommuGroup: 7),
            PCIDevice(address: PCIAddress("0000:03:00.0")!, vendorID: 0x1af4, deviceID: 0x1000, classCode: 0x020000, iommuGroup: 9),
        ])
        let errors = policy.protectedAssignments(in: graph)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.position?.line == 4)
        let text = errors.first?.description ?? ""
        #expect(text.hasPrefix("policy.toml:4:"), "\(text)")
        #expect(text.contains("holds 0000:00:1f.2, which is protected by protect.classes[0] (class 0106, line 2)"), "\(text)")
        #expect(Policy.monitorOnly().protectedAssignments(in: graph).isEmpty)
    }
}
