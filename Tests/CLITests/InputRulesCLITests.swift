import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the CLI refuses or escapes because it came from outside: control characters from sysfs and the journal
/// on the terminal, owners outside the one rule, a policy anyone could write, and `policy check`.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"), .serialized)
struct InputRulesCLITests {
    static let hostile = "\u{1B}[31m\nvfio"
    static let shown = "\\e[31m\\nvfio"

    /// An example tree with a proc/ that holds nothing in use, and the e1000/virtio group free to assign.
    func prepare(_ directory: String) throws {
        #expect(try CLI.run(["example-tree", "\(directory)/sys"]).status == 0)
        for path in ["proc/self/mountinfo", "proc/swaps", "proc/net/route", "proc/net/ipv6_route", "proc/net/if_inet6"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\((path as NSString).deletingLastPathComponent)",
                                                    withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: "\(directory)/\(path)", contents: Data()))
        }
        try "down\n".write(toFile: "\(directory)/sys/class/net/enp3s2/operstate", atomically: false, encoding: .utf8)
        try "0x1002\n".write(toFile: "\(directory)/sys/class/net/enp3s2/flags", atomically: false, encoding: .utf8)
        try "[manage]\ndevices = [\"0000:03:01.0\", \"0000:03:02.0\"]\n".write(toFile: "\(directory)/policy.toml", atomically: false, encoding: .utf8)
        chmod("\(directory)/policy.toml", 0o644)
    }

    func engine(_ directory: String) -> [String] {
        ["--sysfs-root", "\(directory)/sys", "--proc-root", "\(directory)/proc", "--policy", "\(directory)/policy.toml",
         "--journal", "\(directory)/journal", "--state-dir", "\(directory)/state", "--no-journald", "--simulated-kernel"]
    }

    func expectNoControlCharacters(_ text: String, _ command: String) {
        let controls = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F..<0xA0).contains($0.value) }
        #expect(controls.isEmpty, "\(command) passed \(controls.map { $0.value }) to the terminal: \(text.debugDescription)")
    }

    @Test func aDriverOverrideAndADriverHoldingAnEscapeAndANewlinePrintEscaped() throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let device = "\(directory)/sys/devices/pci0000:00/0000:00:02.0/0000:03:01.0"
            try Self.hostile.write(toFile: "\(device)/driver_override", atomically: false, encoding: .utf8)
            // A driver whose name is the same string: `check` shows drivers, not overrides.
            let nvme = "\(directory)/sys/devices/pci0000:00/0000:00:1c.1/0000:02:00.0"
            try FileManager.default.createDirectory(atPath: "\(directory)/sys/bus/pci/drivers/\(Self.hostile)", withIntermediateDirectories: true)
            try FileManager.default.removeItem(atPath: "\(nvme)/driver")
            try FileManager.default.createSymbolicLink(atPath: "\(nvme)/driver", withDestinationPath: "../../../../bus/pci/drivers/\(Self.hostile)")

            for command in [["list"], ["show", "03:01.0"], ["show", "02:00.0"], ["check", "--proc-root", "\(directory)/proc", "--policy", "\(directory)/policy.toml"]] {
                let result = try CLI.run(command + ["--sysfs-root", "\(directory)/sys"])
                // `check` exits 2: the q35 host has blocked groups (its SATA controller backs /).
                #expect(result.status == (command[0] == "check" ? 2 : 0), "\(command): \(result.errors)")
                #expect(result.output.contains(Self.shown), "\(command): \(result.output)")
                expectNoControlCharacters(result.output, command.joined(separator: " "))
            }
            // JSON stays JSON: it escapes by itself, and a script gets the value as it is.
            let json = try CLI.run(["show", "03:01.0", "--json", "--sysfs-root", "\(directory)/sys"])
            let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
            #expect((object?["device"] as? [String: Any])?["driver_override"] as? String == Self.hostile)
        }
    }

    @Test func journalShowPrintsARecordsControlCharactersEscaped() throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let assign = try CLI.run(["assign", "03:01.0", "--owner", "vm1"] + engine(directory))
            #expect(assign.status == 0, "\(assign.errors)")
            // A journal written before the owner rule (or edited): the story must not pass the owner through raw.
            let file = "\(directory)/journal/journal.jsonl"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.contains(#""owner":"vm1""#))
            try text.replacingOccurrences(of: #""owner":"vm1""#, with: #""owner":"\u001b[31m\nvfio""#)
                .write(toFile: file, atomically: false, encoding: .utf8)
            let show = try CLI.run(["journal", "show", "--journal", "\(directory)/journal"])
            #expect(show.output.contains("owner \(Self.shown)"), "\(show.output)")
            expectNoControlCharacters(show.output, "journal show")
            expectNoControlCharacters(show.errors, "journal show (standard error)")
        }
    }

    @Test(arguments: ["vm1\n  0000:00:1f.2: set driver_override \u{1B}[31m", "", "   ", String(repeating: "x", count: 129), "vm\u{202E}1"])
    func anOwnerOutsideTheRuleIsRefusedBeforeAnyWrite(owner: String) throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let assign = try CLI.run(["assign", "03:01.0", "--owner", owner] + engine(directory))
            #expect(assign.status != 0)
            #expect(assign.errors.contains("invalid owner"), "\(assign.errors)")
            expectNoControlCharacters(assign.errors, "assign")
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/journal/journal.jsonl"))
            let release = try CLI.run(["release", "--owner", owner] + engine(directory))
            #expect(release.status != 0)
            #expect(release.errors.contains("invalid owner"), "\(release.errors)")
        }
    }

    @Test func policyCheckAndValidateOnlyPrintTheSame() throws {
        try CLI.withDirectory { directory in
            let good = "\(directory)/good.toml", bad = "\(directory)/bad.toml"
            try "[protect]\nids = [\"8086:2922\"]\n".write(toFile: good, atomically: false, encoding: .utf8)
            try "[protect]\nids = [\"8086:100\"]\ndevices = [\"0000:00:1f.2\\u0000 is NOT the SATA controller\"]\n"
                .write(toFile: bad, atomically: false, encoding: .utf8)
            for file in [good, bad] {
                chmod(file, 0o644)
                for json in [[], ["--json"]] {
                    let policy = try CLI.run(["policy", "check", file] + json)
                    let check = try CLI.run(["check", "--policy", file, "--validate-only"] + json)
                    #expect(policy.status == check.status)
                    #expect(policy.output == check.output)
                    #expect(policy.errors == check.errors)
                    #expect(policy.status == (file == good ? 0 : 3), "\(policy.output)\(policy.errors)")
                }
            }
            let valid = try CLI.run(["policy", "check", good])
            #expect(valid.output == "\(good): valid (monitor-only (no allowlist), 1 protect rule(s), 0 assignment(s), 0 SR-IOV rule(s))\n")
            let invalid = try CLI.run(["policy", "check", bad])
            #expect(invalid.errors.contains("\(bad):2:8: protect.ids[0]: invalid ids '8086:100'"), "\(invalid.errors)")
            #expect(invalid.errors.contains("\(bad):3:25: protect.devices[0]: the string holds \\x00 (U+0000)"), "\(invalid.errors)")
            let json = try CLI.run(["policy", "check", bad, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
            #expect(object?["valid"] as? Bool == false)
            let errors = object?["errors"] as? [[String: Any]] ?? []
            #expect(errors.map { $0["kind"] as? String } == ["invalidIDs", "controlCharacter"])
            #expect(errors.map { $0["line"] as? Int } == [2, 3])
        }
    }

    @Test func aPolicyAnyoneCanWriteIsRefusedByAssignAndNamedByCheck() throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let policy = "\(directory)/policy.toml"
            chmod(policy, 0o666)
            let assign = try CLI.run(["assign", "03:01.0", "--owner", "vm1"] + engine(directory))
            #expect(assign.status != 0)
            #expect(assign.errors.contains("the policy \(policy) is not trusted: \(policy) (mode 0666, owner uid 0) is writable by others"), "\(assign.errors)")
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/journal/journal.jsonl"))
            let release = try CLI.run(["release", "--owner", "vm1"] + engine(directory))
            #expect(release.errors.contains("is not trusted"), "\(release.errors)")
            // check and policy check only warn.
            let check = try CLI.run(["policy", "check", policy])
            #expect(check.status == 0)
            #expect(check.errors.hasPrefix("warning: the policy \(policy) is not trusted"), "\(check.errors)")
            // A directory above that another user owns is named too.
            chmod(policy, 0o644)
            chown(directory, 65534, 65534)
            let owned = try CLI.run(["assign", "03:01.0", "--owner", "vm1"] + engine(directory))
            #expect(owned.errors.contains("\(directory) (mode 0755, owner uid 65534) is owned by uid 65534, not root"), "\(owned.errors)")
            chown(directory, 0, 0)
            let trusted = try CLI.run(["assign", "03:01.0", "--owner", "vm1"] + engine(directory))
            #expect(trusted.status == 0, "\(trusted.errors)")
        }
    }

    @Test func theAgentRefusesToStartOnAPolicyAnyoneCanWrite() throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let policy = "\(directory)/policy.toml"
            chmod(policy, 0o664)
            let agent = try CLI.run(["agent", "--run-dir", "\(directory)/run", "--resync-interval", "0", "--timeout", "5"] + engine(directory))
            #expect(agent.status != 0)
            #expect(agent.errors.contains("the policy \(policy) is not trusted: \(policy) (mode 0664, owner uid 0) is writable by its group"), "\(agent.errors)")
        }
    }

    @Test func checkReportsAnAssignOfAProtectedGroupMemberNamingBothLines() throws {
        try CLI.withDirectory { directory in
            try prepare(directory)
            let policy = "\(directory)/policy.toml"
            try """
                [manage]
                devices = ["0000:03:01.0", "0000:03:02.0"]

                [protect]
                ids = ["1af4:1000"]

                [[assign]]
                device = "0000:03:01.0"
                owner = "vm1"
                """.write(toFile: policy, atomically: false, encoding: .utf8)
            chmod(policy, 0o644)
            #expect(try CLI.run(["policy", "check", policy]).status == 0)
            let check = try CLI.run(["check", "--sysfs-root", "\(directory)/sys", "--proc-root", "\(directory)/proc", "--policy", policy])
            #expect(check.status == 3)
            #expect(check.output.contains("\(policy):7:3: assign[0]: assign[0] (line 7) assigns 0000:03:01.0 to vm1, but 0000:03:01.0's IOMMU group 4 holds 0000:03:02.0, which is protected by protect.ids[0] (ids 1af4:1000, line 5)"), "\(check.output)")
        }
    }
}
