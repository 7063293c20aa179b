import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Policy
import Reports
import SimulatedKernel
import Sysfs
import Testing
@testable import vfio_warden

/// The q35 example host under `BASE/sys` and a fake `/proc` under `BASE/proc` in which sda1 is mounted at `/`
/// and enp3s2 (on the virtio-net 03:02.0) is up with 192.0.2.10 and a route. Removed afterwards.
private func withQ35Host<T>(_ body: (_ sysfs: SysfsRoot, _ proc: SysfsRoot, _ base: String) throws -> T) throws -> T {
    let base = FileManager.default.temporaryDirectory.path + "/vfio-warden-check-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: base) }
    let tree = try ExampleHosts.build(ExampleHosts.q35, at: SysfsRoot(base + "/sys"))
    try tree.makeDirectory("block/sda/sda1/holders")
    try tree.writeFile("block/sda/sda1/dev", "8:1\n")
    try tree.writeFile("block/sda/sda1/partition", "1\n")
    let files = [
        "self/mountinfo": "25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n",
        "swaps": "Filename Type Size Used Priority\n",
        "net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nenp3s2\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        "net/fib_trie": "Main:\n  +-- 192.0.2.0/24 2 0 2\n     |-- 192.0.2.10\n        /32 host LOCAL\n",
        "net/ipv6_route": "",
        "net/if_inet6": "",
    ]
    for (name, text) in files {
        let path = base + "/proc/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
    return try body(SysfsRoot(base + "/sys"), SysfsRoot(base + "/proc"), base)
}

private let examplePolicyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("contrib/policy.example.toml").path

/// The JSON `check --json` prints, decoded to dictionaries.
private func json(_ report: CheckCommand.Report) throws -> [String: Any] {
    let data = try JSONRendering.encode(report)
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func group(_ number: Int, in object: [String: Any]) throws -> [String: Any] {
    let groups = try #require(object["groups"] as? [[String: Any]])
    return try #require(groups.first { $0["group"] as? Int == number })
}

@Suite("vfio-warden check")
struct CheckCommandTests {
    @Test("JSON on the q35 host with the example policy: group 5 blocked by sda1's mount and protection")
    func q35WithExamplePolicy() throws {
        try withQ35Host { sysfs, proc, _ in
            let policy = try Policy.load(path: examplePolicyPath)
            let object = try json(try CheckCommand.report(sysfs: sysfs, proc: proc, policy: policy, address: nil))
            #expect((object["groups"] as? [Any])?.count == 6)

            let chipset = try group(5, in: object)
            #expect(chipset["verdict"] as? String == "blocked")
            let reasons = try #require(chipset["reasons"] as? [String])
            #expect(reasons.contains("0000:00:1f.2: backs / (mounted ext4 filesystem on sda1, 8:1)"))
            #expect(reasons.contains { $0.hasPrefix("0000:00:1f.2: protected by protect.devices[0] (0000:00:1f.2, line ") })
            let members = try #require(chipset["members"] as? [[String: Any]])
            let ahci = try #require(members.first { $0["address"] as? String == "0000:00:1f.2" })
            let hostUse = try #require(ahci["host_use"] as? [String: Any])
            #expect(hostUse["safe"] as? Bool == false)
            #expect(ahci["policy"] as? String == "protected")

            // Group 2: the e1000e (down, no address) behind its root port, allowlisted by ids and statically assigned.
            let nicGroup = try group(2, in: object)
            #expect(nicGroup["verdict"] as? String == "could-be-assigned")
            #expect(nicGroup["assigned_to"] as? String == "vm-router")
            #expect((nicGroup["reasons"] as? [String])?.isEmpty == true)
            let nicMembers = try #require(nicGroup["members"] as? [[String: Any]])
            #expect(nicMembers.map { $0["policy"] as? String } == ["bridge", "managed"])

            // Group 4: the virtio-net is allowlisted but carries enp3s2, up with 192.0.2.10.
            let virtio = try group(4, in: object)
            #expect(virtio["verdict"] as? String == "blocked")
            #expect((virtio["reasons"] as? [String])?.contains(
                "0000:03:02.0: carries enp3s2, which is up, has address 192.0.2.10 and carries route 192.0.2.0/24") == true)

            // Group 3: the NVMe PF itself is outside the allowlist (only its VFs are in it).
            #expect((try group(3, in: object)["reasons"] as? [String]) == ["0000:02:00.0: outside the allowlist (no [manage] rule matches)"])
        }
    }

    @Test("A member whose iommu_group link cannot be read blocks its group, as the planner refuses it")
    func unreadableGroupLinkBlocks() throws {
        try withQ35Host { sysfs, proc, base in
            try FileManager.default.removeItem(atPath: base + "/sys/bus/pci/devices/0000:01:00.0/iommu_group")
            let policy = try Policy.load(path: examplePolicyPath)
            let report = try CheckCommand.report(sysfs: sysfs, proc: proc, policy: policy, address: nil)
            let nicGroup = try #require(report.groups.first { $0.group == 2 })
            #expect(nicGroup.blocked)
            #expect(nicGroup.members.first { $0.address == .literal("0000:01:00.0") }?.blocks == true)
            #expect(nicGroup.reasons.contains { $0.hasPrefix("0000:01:00.0: its iommu_group link cannot be read (") })
            #expect(CheckCommand.exitStatus(report) == CheckCommand.Status.blocked)
        }
    }

    @Test("An [[sriov]] rule the planner's gates refuse is reported with the planner's reasons, and check exits 2")
    func refusedSRIOVRule() throws {
        try withQ35Host { sysfs, proc, _ in
            let text = try String(contentsOf: URL(fileURLWithPath: examplePolicyPath), encoding: .utf8)
            let refusing = text.replacingOccurrences(of: "manage_pf = true", with: "manage_pf = false")
            #expect(refusing != text)
            let refused = try CheckCommand.report(sysfs: sysfs, proc: proc,
                                                  policy: try Policy.parse(text: refusing, file: "policy.toml"), address: nil)
            let rule = try #require(refused.sriov.first)
            #expect(refused.sriov.count == 1)
            #expect(rule.pf == .literal("0000:02:00.0"))
            #expect(rule.refused)
            #expect(rule.reasons == ["0000:02:00.0: is outside the allowlist ([manage]) and its [[sriov]] rule does not say manage_pf = true, so it may not be written"])
            #expect(CheckCommand.exitStatus(refused) == CheckCommand.Status.blocked)
            #expect(CheckCommand.render(refused).contains("sriov[0]"))
            let object = try json(refused)
            let rules = try #require(object["sriov"] as? [[String: Any]])
            #expect(rules.first?["refused"] as? Bool == true)
            // With ADDRESS, only rules whose PF is in that device's group count.
            let elsewhere = try CheckCommand.report(sysfs: sysfs, proc: proc,
                                                    policy: try Policy.parse(text: refusing, file: "policy.toml"),
                                                    address: .literal("0000:01:00.0"))
            #expect(elsewhere.sriov.isEmpty)
            #expect(CheckCommand.exitStatus(elsewhere) == CheckCommand.Status.allClear)

            let allowed = try CheckCommand.report(sysfs: sysfs, proc: proc,
                                                  policy: try Policy.parse(text: text, file: "policy.toml"), address: nil)
            #expect(allowed.sriov.map(\.refused) == [false])
            #expect(allowed.sriov.first?.reasons == [])
        }
    }

    @Test("An [[sriov]] rule whose PF is protected or in host use is refused by check too")
    func sriovRuleOnAProtectedPF() throws {
        try withQ35Host { sysfs, proc, _ in
            let text = try String(contentsOf: URL(fileURLWithPath: examplePolicyPath), encoding: .utf8)
            let protecting = text.replacingOccurrences(of: "\"0000:00:01.0\",", with: "\"0000:00:01.0\", \"0000:02:00.0\",")
            #expect(protecting != text)
            let report = try CheckCommand.report(sysfs: sysfs, proc: proc,
                                                 policy: try Policy.parse(text: protecting, file: "policy.toml"), address: nil)
            #expect(report.sriov.first?.reasons.contains { $0.hasPrefix("0000:02:00.0: is protected by the policy (") } == true)
        }
    }

    @Test("Golden: check --json and the text on the q35 host with the example policy")
    func golden() throws {
        try withQ35Host { sysfs, proc, _ in
            let text = try String(contentsOf: URL(fileURLWithPath: examplePolicyPath), encoding: .utf8)
            let policy = try Policy.parse(text: text, file: "policy.example.toml")
            let report = try CheckCommand.report(sysfs: sysfs, proc: proc, policy: policy, address: nil)
            try expectGolden(String(decoding: try JSONRendering.encode(report), as: UTF8.self), "check-q35-example-policy.json")
            try expectGolden(CheckCommand.render(report), "check-q35-example-policy.txt")
        }
    }

    @Test("Without a policy every group is blocked as monitor-only, host use is still reported")
    func monitorOnly() throws {
        try withQ35Host { sysfs, proc, _ in
            let object = try json(try CheckCommand.report(sysfs: sysfs, proc: proc, policy: .monitorOnly(), address: nil))
            let policy = try #require(object["policy"] as? [String: Any])
            #expect(policy["monitor_only"] as? Bool == true)
            let groups = try #require(object["groups"] as? [[String: Any]])
            #expect(groups.allSatisfy { $0["verdict"] as? String == "blocked" })
            #expect(groups.allSatisfy { ($0["reasons"] as? [String])?.first?.hasPrefix("monitor-only") == true })
        }
    }

    @Test("ADDRESS limits the report to that device's group")
    func oneDevice() throws {
        try withQ35Host { sysfs, proc, _ in
            let report = try CheckCommand.report(sysfs: sysfs, proc: proc, policy: .monitorOnly(), address: .literal("0000:03:01.0"))
            #expect(report.groups.map(\.group) == [4])
            #expect(report.groups[0].members.map(\.address.description) == ["0000:00:02.0", "0000:03:01.0", "0000:03:02.0"])
            #expect(throws: CommandFailure.self) {
                try CheckCommand.report(sysfs: sysfs, proc: proc, policy: .monitorOnly(), address: .literal("0000:09:00.0"))
            }
        }
    }

    @Test("The text rendering names every verdict and reason")
    func textRendering() throws {
        try withQ35Host { sysfs, proc, _ in
            let policy = try Policy.load(path: examplePolicyPath)
            let text = CheckCommand.render(try CheckCommand.report(sysfs: sysfs, proc: proc, policy: policy, address: nil))
            #expect(text.contains("Group 5: BLOCKED\n"))
            #expect(text.contains("Group 2: could be assigned (assigned to vm-router by policy)\n"))
            #expect(text.contains("        - backs / (mounted ext4 filesystem on sda1, 8:1)\n"))
        }
    }

    @Test("--validate-only: a broken file exits 1, a valid one passes; a missing named file is an error")
    func validateOnly() throws {
        try withQ35Host { _, _, base in
            let broken = base + "/broken.toml"
            try Data("[manage]\ngroup = [5]\n".utf8).write(to: URL(fileURLWithPath: broken))
            #expect(throws: ExitCode.self) {
                try CheckCommand.parse(["--policy", broken, "--validate-only"]).run()
            }
            try CheckCommand.parse(["--policy", examplePolicyPath, "--validate-only"]).run()
            #expect(throws: ExitCode.self) {
                try CheckCommand.parse(["--policy", base + "/missing.toml", "--validate-only"]).run()
            }
            #expect {
                _ = try CheckCommand.loadPolicy(path: base + "/missing.toml")
            } throws: { error in
                (error as? PolicyErrors)?.errors.first?.kind == .unreadable
            }
        }
    }

    @Test("A missing default policy file means monitor-only",
          .enabled(if: access(Policy.defaultPath, F_OK) != 0, "this machine has a real default policy file"))
    func missingDefault() throws {
        #expect(try CheckCommand.loadPolicy(path: nil).isMonitorOnly)
    }
}

/// Compares output with `Tests/CheckCommandTests/Golden/NAME`. Run with `VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test`
/// to write the current output as the new golden file (then review the diff before committing).
private func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    let file = directory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["VFIO_WARDEN_REGENERATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try actual.write(to: file, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record("golden file \(name) is missing; run VFIO_WARDEN_REGENERATE_GOLDEN=1 swift test", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "output differs from Golden/\(name)", sourceLocation: sourceLocation)
}
