import Foundation
import Policy
import Rules
import SimulatedKernel
import Sysfs
import Testing
import Topology

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Compares with `Tests/RulesTests/Golden/NAME`; `VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test` rewrites it.
func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let file = repositoryRoot.appendingPathComponent("Tests/RulesTests/Golden/\(name)")
    if ProcessInfo.processInfo.environment["VFIO_WARDEN_REGENERATE_GOLDEN"] == "1" {
        try actual.write(to: file, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record("golden file \(name) is missing; run VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "output differs from Golden/\(name)", sourceLocation: sourceLocation)
}

/// The q35 example host (`vfio-warden example-tree`) in a temporary directory, scanned.
func q35Graph() throws -> TopologyGraph {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-rules-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try ExampleHosts.build(ExampleHosts.q35, at: SysfsRoot(path))
    return try TopologyGraph.scan(root: SysfsRoot(path))
}

func examplePolicy() throws -> Policy {
    try Policy.load(path: repositoryRoot.appendingPathComponent("contrib/policy.example.toml").path)
}

let generateCommand = "vfio-warden rules generate --policy /etc/vfio-warden/policy.toml --output /usr/lib/udev/rules.d/70-vfio-warden.rules"

@Suite struct UdevRulesTests {
    @Test func examplePolicyOnTheQ35HostMatchesTheGoldenFile() throws {
        let output = UdevRulesGenerator(policy: try examplePolicy(), graph: try q35Graph())
            .generate(policyPath: "/etc/vfio-warden/policy.toml", command: generateCommand)
        try expectGolden(output.text, "q35-example.rules")
        #expect(output.warnings.isEmpty, "\(output.warnings)")
    }

    @Test func withoutAScanOnlyWhatThePolicyNamesIsMatched() throws {
        let output = UdevRulesGenerator(policy: try examplePolicy(), graph: nil)
            .generate(policyPath: "/etc/vfio-warden/policy.toml", command: generateCommand)
        try expectGolden(output.text, "example-no-scan.rules")
        #expect(output.warnings.contains { $0.contains("was not scanned") })
    }

    /// The shipped example, rules/70-vfio-warden.rules, is what the generator makes from the example policy.
    @Test func shippedExampleIsUpToDate() throws {
        let output = UdevRulesGenerator(policy: try examplePolicy(), graph: try q35Graph())
            .generate(policyPath: "contrib/policy.example.toml",
                      command: "vfio-warden example-tree /tmp/q35 && vfio-warden rules generate --sysfs-root /tmp/q35 --policy contrib/policy.example.toml --output rules/70-vfio-warden.rules")
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("rules/70-vfio-warden.rules"), encoding: .utf8)
        // The header's command names the temporary tree generate.sh made: compare every other line.
        func body(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.hasPrefix("#   vfio-warden ") && !$0.hasPrefix("# Example") && !$0.hasPrefix("# `vfio-warden example-tree") && !$0.hasPrefix("# below with") } }
        #expect(body(output.text) == body(shipped), "regenerate rules/70-vfio-warden.rules with contrib/generate.sh")
    }

    @Test func everyRuleIsAnAddOfAPCIDeviceAndEveryAssignmentKeyIsKnown() throws {
        let text = UdevRulesGenerator(policy: try examplePolicy(), graph: try q35Graph())
            .generate(policyPath: "p", command: "c").text
        let rules = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(rules.first == "ACTION!=\"add\", GOTO=\"vfio_warden_end\"")
        #expect(rules.last == "LABEL=\"vfio_warden_end\"")
        // The e1000e of [[assign]], with its ids; its root port (a bridge) gets none.
        #expect(rules.contains { $0.hasPrefix("KERNEL==\"0000:01:00.0\", ATTR{vendor}==\"0x8086\", ATTR{device}==\"0x10d3\", ATTR{driver_override}=\"vfio-pci\"") })
        #expect(!rules.contains { $0.contains("0000:00:1c.0") })
        // The SR-IOV PF: autoprobe off; its VFs through physfn.
        #expect(rules.contains { $0.hasPrefix("KERNEL==\"0000:02:00.0\"") && $0.hasSuffix("ATTR{sriov_drivers_autoprobe}=\"0\"") })
        #expect(rules.contains { $0.contains("RESULT==\"*/0000:02:00.0\"") && $0.contains("ATTR{driver_override}=\"vfio-pci\"") })
        // Protected devices never appear in a rule.
        #expect(!rules.contains { $0.contains("0000:00:1f.2") || $0.contains("0000:00:01.0") })
        // udev's quoting: every rule line has an even number of double quotes.
        for rule in rules { #expect(rule.filter { $0 == "\"" }.count % 2 == 0, "\(rule)") }
    }

    @Test func aGroupWithAProtectedMemberGetsNoRuleAtAll() throws {
        let policy = try Policy.parse(text: """
            [manage]
            devices = ["0000:00:1f.0", "0000:00:1f.3"]
            [protect]
            devices = ["0000:00:1f.2"]
            [[assign]]
            device = "0000:00:1f.0"
            owner = "vm"
            """, file: "p.toml")
        let output = UdevRulesGenerator(policy: policy, graph: try q35Graph()).generate(policyPath: "p.toml", command: "c")
        #expect(!output.text.contains("KERNEL==\"0000:00:1f"))
        #expect(output.warnings.count == 1)
        #expect(output.warnings[0].contains("0000:00:1f.2 is protected"))
    }

    @Test func siblingsInTheGroupAreMatchedWithTheirOwnIds() throws {
        let policy = try Policy.parse(text: """
            [manage]
            devices = ["0000:03:01.0", "0000:03:02.0"]
            [[assign]]
            device = "0000:03:01.0"
            owner = "vm"
            """, file: "p.toml")
        let output = UdevRulesGenerator(policy: policy, graph: try q35Graph()).generate(policyPath: "p.toml", command: "c")
        #expect(output.text.contains("KERNEL==\"0000:03:01.0\", ATTR{vendor}==\"0x8086\", ATTR{device}==\"0x100e\""))
        #expect(output.text.contains("KERNEL==\"0000:03:02.0\", ATTR{vendor}==\"0x1af4\", ATTR{device}==\"0x1000\""))
        #expect(output.text.contains("# 0000:00:02.0: a bridge"))
    }

    @Test func monitorOnlyPolicyGivesNoRules() throws {
        let policy = try Policy.parse(text: """
            [[assign]]
            device = "0000:03:01.0"
            owner = "vm"
            """, file: "p.toml")
        let output = UdevRulesGenerator(policy: policy, graph: try q35Graph()).generate(policyPath: "p.toml", command: "c")
        #expect(!output.text.contains("KERNEL=="))
        #expect(output.text.contains("no rules"))
    }

    @Test func anSRIOVRuleCoversItsPFAndVFsUnlessThePFIsProtected() throws {
        let allowed = try Policy.parse(text: """
            [manage]
            devices = ["0000:03:01.0"]
            [[sriov]]
            pf = "0000:02:00.0"
            numvfs = 2
            vf_driver = "pci-stub"
            manage_pf = true
            """, file: "p.toml")
        let output = UdevRulesGenerator(policy: allowed, graph: try q35Graph()).generate(policyPath: "p.toml", command: "c")
        #expect(output.text.contains("KERNEL==\"0000:02:00.0\", ATTR{vendor}==\"0x1b36\", ATTR{device}==\"0x0010\", ATTR{sriov_drivers_autoprobe}=\"0\""))
        #expect(output.text.contains("RESULT==\"*/0000:02:00.0\", ATTR{driver_override}=\"pci-stub\", RUN+=\"/bin/sh -c '/sbin/modprobe -q pci-stub;"))
        #expect(output.warnings.isEmpty)

        let protected = try Policy.parse(text: """
            [manage]
            devices = ["0000:03:01.0"]
            [protect]
            ids = ["1b36:0010"]
            [[sriov]]
            pf = "0000:02:00.0"
            numvfs = 2
            """, file: "p.toml")
        let refused = UdevRulesGenerator(policy: protected, graph: try q35Graph()).generate(policyPath: "p.toml", command: "c")
        #expect(!refused.text.contains("sriov_drivers_autoprobe}="))
        #expect(!refused.text.contains("physfn\", PROGRAM"))
        #expect(refused.warnings.count == 1)

        // Issue 12 item 2: a PF outside [manage] whose rule does not say manage_pf gets no rule, nor does any PF
        // of a monitor-only policy: udev writes nothing the agent would not.
        for text in ["[manage]\ndevices = [\"0000:03:01.0\"]\n[[sriov]]\npf = \"0000:02:00.0\"\nnumvfs = 2\n",
                     "[[sriov]]\npf = \"0000:02:00.0\"\nnumvfs = 2\nmanage_pf = true\n"] {
            let ungated = UdevRulesGenerator(policy: try Policy.parse(text: text, file: "p.toml"), graph: try q35Graph())
                .generate(policyPath: "p.toml", command: "c")
            #expect(!ungated.text.contains("sriov_drivers_autoprobe}="))
            #expect(!ungated.text.contains("physfn\", PROGRAM"))
            #expect(ungated.warnings.count == 1)
        }
    }
}

@Suite struct UdevRulesHeaderTests {
    @Test func aNewlineInThePolicyPathCannotStartARule() throws {
        let policy = try Policy.parse(text: "[manage]\ndevices = [\"0000:03:01.0\"]\n", file: "p.toml")
        let text = UdevRulesGenerator(policy: policy, graph: nil)
            .generate(policyPath: "/etc/x\nKERNEL==\"*\", ATTR{remove}=\"1\"", command: "c").text
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("KERNEL") })
    }
}
