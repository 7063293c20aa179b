#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Policy
import Sysfs
import Testing

/// Parses `text`, expecting errors; returns them (fails the test when the text parses).
func parseErrors(_ text: String, file: String = "policy.toml") -> [PolicyError] {
    do {
        _ = try Policy.parse(text: text, file: file)
        Issue.record("expected errors, the policy parsed")
        return []
    } catch {
        return error.errors
    }
}

struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var kind: PolicyError.Kind
    var line: Int
    var column: Int
    var path: String
    var messageContains: String
    var testDescription: String { name }
}

@Suite("Policy file parsing")
struct PolicyParserTests {
    @Test("The example policy for the q35 host parses")
    func examplePolicyParses() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("contrib/policy.example.toml").path
        let policy = try Policy.load(path: path)
        #expect(!policy.isMonitorOnly)
        #expect(policy.manage.map(\.path) == ["manage.devices[0]", "manage.devices[1]", "manage.ids[0]", "manage.vfs_of[0]"])
        #expect(policy.manage[1].selector == .device(DeviceReference(
            address: .init(domain: 0, bus: 3, slot: 2, function: 0), ids: DeviceIDs(vendor: 0x1af4, device: 0x1000))))
        #expect(policy.protect.map(\.description).contains { $0.hasPrefix("protect.devices[0] (0000:00:1f.2") })
        #expect(policy.assignments.count == 1 && policy.assignments[0].owner == "vm-router")
        #expect(policy.sriov.count == 1 && policy.sriov[0].numVFs == 2 && policy.sriov[0].vfDriver == "vfio-pci")
    }

    @Test("The brief's example error: file, line, column, path, what was expected")
    func invalidAddressMessage() {
        let text = """
            # line 1
            # line 2
            # line 3
            # line 4
            # line 5
            [manage]
            devices = ["0000:03:01.0", "03:1"]
            """
        let errors = parseErrors(text)
        #expect(errors.count == 1)
        #expect(errors.first?.description.hasPrefix(
            "policy.toml:7:28: manage.devices[1]: invalid PCI address '03:1': expected [domain:]bus:slot.function") == true)
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(name: "invalid address", text: "[manage]\ndevices = [\"0000:03:01.0\", \"03:1\"]\n",
                  kind: .invalidAddress, line: 2, column: 28, path: "manage.devices[1]", messageContains: "'03:1'"),
        ErrorCase(name: "invalid address in an inline table", text: "[manage]\ndevices = [\n  { address = \"00:1g.0\" },\n]\n",
                  kind: .invalidAddress, line: 3, column: 15, path: "manage.devices[0].address", messageContains: "slot '1g'"),
        ErrorCase(name: "invalid ids beside an address", text: "[protect]\ndevices = [{ address = \"00:1f.2\", ids = \"8086-2922\" }]\n",
                  kind: .invalidIDs, line: 2, column: 41, path: "protect.devices[0].ids", messageContains: "exactly four hex digits each"),
        ErrorCase(name: "invalid ids", text: "[manage]\nids = [\"8086:100e\", \"zz:1\"]\n",
                  kind: .invalidIDs, line: 2, column: 21, path: "manage.ids[1]", messageContains: "'zz:1'"),
        ErrorCase(name: "invalid class", text: "[manage]\nclasses = [\"02000\"]\n",
                  kind: .invalidClass, line: 2, column: 12, path: "manage.classes[0]", messageContains: "2, 4 or 6 hex digits"),
        ErrorCase(name: "wrong type", text: "[manage]\ndevices = \"0000:03:01.0\"\n",
                  kind: .wrongType, line: 2, column: 11, path: "manage.devices", messageContains: "expected an array, found a string"),
        ErrorCase(name: "number as address", text: "[manage]\nvfs_of = [3]\n",
                  kind: .wrongType, line: 2, column: 11, path: "manage.vfs_of[0]", messageContains: "found an integer"),
        ErrorCase(name: "unknown key in [manage]", text: "[manage]\ndevice = [\"0000:03:01.0\"]\n",
                  kind: .unknownKey, line: 2, column: 1, path: "manage.device", messageContains: "unknown key 'device' in manage (did you mean 'devices'?): expected one of devices, ids, classes, vfs_of"),
        ErrorCase(name: "unknown table", text: "\n[protected]\ndevices = [\"0000:00:1f.2\"]\n",
                  kind: .unknownKey, line: 2, column: 2, path: "protected", messageContains: "unknown key 'protected' at the top level"),
        ErrorCase(name: "vfs_of is not a protect key", text: "[protect]\n  vfs_of = []\n",
                  kind: .unknownKey, line: 2, column: 3, path: "protect.vfs_of", messageContains: "expected one of devices, ids, classes"),
        ErrorCase(name: "group key in [manage]", text: "[manage]\ngroup = [5]\n",
                  kind: .groupKey, line: 2, column: 1, path: "manage.group", messageContains: "change across reboots"),
        ErrorCase(name: "group key in [[assign]]", text: "[[assign]]\nowner = \"vm1\"\ngroup = 4\ndevice = \"03:01.0\"\n",
                  kind: .groupKey, line: 3, column: 1, path: "assign[0].group", messageContains: "name a member device by address"),
        ErrorCase(name: "missing owner", text: "[[assign]]\ndevice = \"03:01.0\"\n",
                  kind: .missingKey, line: 1, column: 3, path: "assign[0]", messageContains: "missing key 'owner'"),
        ErrorCase(name: "device and ids together", text: "[[assign]]\ndevice = \"03:01.0\"\nids = \"8086:100e\"\nowner = \"vm\"\n",
                  kind: .conflict, line: 3, column: 7, path: "assign[0].ids", messageContains: "either device or ids"),
        ErrorCase(name: "empty owner", text: "[[assign]]\ndevice = \"03:01.0\"\nowner = \"\"\n",
                  kind: .invalidValue, line: 3, column: 9, path: "assign[0].owner", messageContains: "it is empty"),
        ErrorCase(name: "negative numvfs", text: "[[sriov]]\npf = \"02:00.0\"\nnumvfs = -1\n",
                  kind: .invalidValue, line: 3, column: 10, path: "sriov[0].numvfs", messageContains: "from 0 to 65535"),
        ErrorCase(name: "numvfs as a string", text: "[[sriov]]\npf = \"02:00.0\"\nnumvfs = \"4\"\n",
                  kind: .wrongType, line: 3, column: 10, path: "sriov[0].numvfs", messageContains: "expected an integer"),
        ErrorCase(name: "second [[sriov]] for one PF", text: "[[sriov]]\npf = \"02:00.0\"\nnumvfs = 1\n[[sriov]]\npf = \"0000:02:00.0\"\nnumvfs = 2\n",
                  kind: .duplicate, line: 5, column: 6, path: "sriov[1].pf", messageContains: "already has an SR-IOV rule in sriov[0]"),
        ErrorCase(name: "assigning a protected device", text: "[protect]\ndevices = [\"00:1f.2\"]\n[[assign]]\ndevice = \"0000:00:1f.2\"\nowner = \"vm\"\n",
                  kind: .conflict, line: 4, column: 10, path: "assign[0].device", messageContains: "protected by protect.devices[0]"),
        ErrorCase(name: "bad serial", text: "[manage]\ndevices = [{ address = \"03:01.0\", serial = \"12-34\" }]\n",
                  kind: .invalidValue, line: 2, column: 44, path: "manage.devices[0].serial", messageContains: "8 bytes of two hex digits"),
        ErrorCase(name: "TOML syntax error", text: "[manage]\ndevices = [\"0000:03:01.0\"\n",
                  kind: .syntax, line: 2, column: 27, path: "", messageContains: "not valid TOML"),
    ]

    @Test("Each kind of error names its kind, line, column and path", arguments: errorCases)
    func errorCase(_ testCase: ErrorCase) {
        let errors = parseErrors(testCase.text)
        #expect(errors.count == 1, "\(errors)")
        guard let error = errors.first else { return }
        #expect(error.kind == testCase.kind)
        #expect(error.position == SourcePosition(line: testCase.line, column: testCase.column), "\(error)")
        #expect(error.path == testCase.path)
        #expect(error.message.contains(testCase.messageContains), "\(error.message)")
        #expect(error.description.hasPrefix("policy.toml:\(testCase.line):\(testCase.column): "))
    }

    @Test("All errors are reported, in file order, not just the first")
    func collectsAllErrors() {
        let text = """
            [manage]
            devices = ["bogus", "0000:03:01.0"]
            classes = ["0x02000"]
            typo = true

            [protect]
            ids = ["8086"]

            [[assign]]
            device = "03:02.0"
            """
        let errors = parseErrors(text)
        #expect(errors.map(\.kind) == [.invalidAddress, .invalidClass, .unknownKey, .invalidIDs, .missingKey])
        #expect(errors.map(\.position?.line) == [2, 3, 4, 7, 9])
    }

    @Test("No [manage] table, or an empty one, is monitor-only", arguments: ["", "[manage]\ndevices = []\nids = []\n", "[protect]\ndevices = [\"00:1f.2\"]\n"])
    func monitorOnly(_ text: String) throws {
        let policy = try Policy.parse(text: text, file: "p.toml")
        #expect(policy.isMonitorOnly)
    }

    @Test("A missing file is an unreadable-file error naming the file")
    func missingFile() {
        #expect {
            _ = try Policy.load(path: "/nonexistent-vfio-warden/policy.toml")
        } throws: { error in
            guard let errors = error as? PolicyErrors, let first = errors.errors.first else { return false }
            return first.kind == .unreadable && first.description.hasPrefix("/nonexistent-vfio-warden/policy.toml: cannot read")
        }
    }

    @Test("Defaults: vf_driver is vfio-pci; short addresses are domain 0")
    func defaults() throws {
        let policy = try Policy.parse(text: "[[sriov]]\npf = \"02:00.0\"\nnumvfs = 3\n", file: "p.toml")
        #expect(policy.sriov.first?.vfDriver == "vfio-pci")
        #expect(policy.sriovRule(forPF: .init(domain: 0, bus: 2, slot: 0, function: 0))?.numVFs == 3)
    }
}
