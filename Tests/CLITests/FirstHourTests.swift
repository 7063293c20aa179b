import Foundation
import Testing

/// Issue 13, as a new user meets the tool: a test tree never writes the host's state, a static tree is never
/// written, refusals are journaled, `simulate` on a foreign tree, `status`/`journal --sysfs-root`, what the
/// journal says of a new VF, `check`'s exit status, and the messages. The built executable on temporary trees only.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct FirstHourTests {
    static let hostState = ["/var/lib/vfio-warden", "/run/vfio-warden"]
    static let nicsPolicy = "[manage]\ndevices = [\"0000:03:01.0\", \"0000:03:02.0\"]\n"

    /// What exists under the host's state directories (nil: the directory does not exist).
    static func hostStateListing() -> [String: [String]?] {
        Dictionary(uniqueKeysWithValues: hostState.map { path in
            (path, (FileManager.default.subpaths(atPath: path)).map { $0.sorted() })
        })
    }

    /// A q35 tree at DIR/sys whose virtio-net interface is down (the bridge group may be assigned), and a policy
    /// managing the bridge group's NICs at DIR/policy.toml.
    static func q35(_ directory: String, withProc: Bool = false) throws {
        let made = try CLI.run(["example-tree", "\(directory)/sys"] + (withProc ? ["--with-proc"] : []))
        #expect(made.status == 0, "example-tree: \(made.errors)")
        try "down\n".write(toFile: "\(directory)/sys/class/net/enp3s2/operstate", atomically: false, encoding: .utf8)
        try "0x1002\n".write(toFile: "\(directory)/sys/class/net/enp3s2/flags", atomically: false, encoding: .utf8)
        try nicsPolicy.write(toFile: "\(directory)/policy.toml", atomically: false, encoding: .utf8)
    }

    // MARK: Item 2: a test tree never writes the host's state, never reads the host's /proc

    @Test func commandsOnATreeKeepTheirStateBesideItNeverInTheHostsDirectories() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory, withProc: true)
            let before = Self.hostStateListing()
            let tree = ["--sysfs-root", "\(directory)/sys", "--policy", "\(directory)/policy.toml", "--no-journald"]
            let assigned = try CLI.run(["assign", "03:01.0", "--owner", "vm1", "--simulated-kernel"] + tree)
            #expect(assigned.status == 0, "assign: \(assigned.output) \(assigned.errors)")
            let planned = try CLI.run(["plan", "release", "--owner", "vm1"] + tree)
            #expect(planned.status == 0, "plan: \(planned.output) \(planned.errors)")
            let agent = try CLI.run(["agent", "--simulated-kernel", "--no-control-socket"] + tree)
            #expect(agent.status == 0, "agent: \(agent.errors)")
            let released = try CLI.run(["release", "--owner", "vm1", "--simulated-kernel"] + tree)
            #expect(released.status == 0, "release: \(released.output) \(released.errors)")

            #expect(Self.hostStateListing() == before, "nothing may appear under \(Self.hostState)")
            let files = FileManager.default
            #expect(files.fileExists(atPath: "\(directory)/var/lib/vfio-warden/journal/journal.jsonl"))
            #expect(files.fileExists(atPath: "\(directory)/var/lib/vfio-warden/assignments.json"))
            #expect(files.fileExists(atPath: "\(directory)/run/vfio-warden"), "the agent's run lock beside the tree")
            // `journal --sysfs-root` reads the journal those commands wrote (item 10).
            let story = try CLI.run(["journal", "--sysfs-root", "\(directory)/sys"])
            #expect(story.status == 0, "journal: \(story.errors)")
            #expect(story.output.contains("assigned to vm1") && story.output.contains("released by vm1"), "\(story.output)")
            #expect(try CLI.run(["journal", "verify", "--sysfs-root", "\(directory)/sys"]).status == 0)
        }
    }

    @Test func aTreeWithoutProcIsNeverJudgedWithTheMachinesProc() throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys"])
            let check = try CLI.run(["check", "00:1f.2", "--sysfs-root", "\(directory)/sys"])
            // The machine's own /proc says nothing of this tree's sda: unknown, so in use, and how to say better.
            let lines = check.output.split(separator: "\n")
            let sata = try #require(lines.firstIndex { $0.contains("0000:00:1f.2  8086:2922") })
            #expect(lines[sata + 1].contains("host use: IN USE"), "\(check.output)")
            #expect(check.output.contains("0000:00:1f.2: carries disk sda, and proc/self/mountinfo and proc/swaps cannot be read"), "\(check.output)")
            #expect(check.errors.contains("--proc-root"), "\(check.errors)")
            #expect(check.errors.contains("\(directory)/proc"), "\(check.errors)")

            // A proc/ beside the tree (example-tree --with-proc writes one) is read without being named.
            try CLI.withDirectory { other in
                #expect(try CLI.run(["example-tree", "\(other)/sys", "--with-proc"]).status == 0)
                let beside = try CLI.run(["check", "00:1f.2", "--sysfs-root", "\(other)/sys"])
                #expect(beside.output.contains("- backs / (mounted ext4 filesystem on sda, 8:0)"), "\(beside.output)")
                #expect(!beside.errors.contains("warning"), "\(beside.errors)")
            }
        }
    }

    // MARK: Item 3: a static tree is never written

    @Test func assignOnAStaticTreeIsRefusedAndWritesNothing() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory)
            let override = "\(directory)/sys/bus/pci/devices/0000:03:01.0/driver_override"
            let before = try String(contentsOfFile: override, encoding: .utf8)
            let started = ContinuousClock.now
            for command in [["assign", "03:01.0", "--owner", "vm1"], ["release", "--owner", "vm1"]] {
                let result = try CLI.run(command + ["--sysfs-root", "\(directory)/sys", "--policy", "\(directory)/policy.toml", "--no-journald"])
                #expect(result.status == 1, "\(command[0]): \(result.output)")
                #expect(result.errors.contains("is not a live sysfs"), "\(result.errors)")
                #expect(result.errors.contains("vfio-warden simulate --sysfs-root \(directory)/sys") && result.errors.contains("--simulated-kernel"),
                        "\(result.errors)")
            }
            #expect(ContinuousClock.now - started < .seconds(5), "refused at once, no timeouts")
            #expect(try String(contentsOfFile: override, encoding: .utf8) == before)
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/var/lib/vfio-warden/journal"), "refused before the journal is opened")
        }
    }

    // MARK: Item 4: refused requests are journaled (--direct here; the agent's path in ControlTests)

    @Test func refusedDirectRequestsAreJournaledWithWhoWhatAndWhy() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory, withProc: true)
            let tree = ["--sysfs-root", "\(directory)/sys", "--policy", "\(directory)/policy.toml", "--no-journald"]
            #expect(try CLI.run(["assign", "00:1f.2", "--owner", "vm2", "--simulated-kernel", "--direct"] + tree).status == 1)
            #expect(try CLI.run(["release", "--owner", "vm2", "--simulated-kernel", "--direct"] + tree).status == 1)
            #expect(try CLI.run(["plan", "assign", "00:1f.2", "--owner", "vm2", "--direct"] + tree).status == 1)
            let refused = try CLI.run(["journal", "--sysfs-root", "\(directory)/sys", "--kind", "record_refused"])
            let lines = refused.output.split(separator: "\n").filter { $0.contains("record refused") }
            #expect(lines.count == 3, "\(refused.output)")
            #expect(lines.allSatisfy { $0.contains("uid \(getuid()) pid ") }, "who: \(lines)")
            #expect(lines.first { $0.contains("request refused: assign 0000:00:1f.2 --owner vm2: ") }?
                .contains("0000:00:1f.2: is in use by the host: backs /") == true, "what and why: \(lines)")
            #expect(lines.contains { $0.contains("request refused: release --owner vm2: ") }, "\(lines)")
            #expect(lines.contains { $0.contains("request refused: plan assign 0000:00:1f.2 --owner vm2: ") }, "\(lines)")
            #expect(try CLI.run(["journal", "verify", "--sysfs-root", "\(directory)/sys"]).status == 0)
        }
    }

    // MARK: Item 7: simulate on a foreign tree

    @Test func simulateOnAForeignTreeWithoutAScenarioPlaysOneMadeFromIt() throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["example-tree", "\(directory)/gen/sys", "--host", "generated", "--groups", "3", "--per-group", "2"]).status == 0)
            let result = try CLI.run(["simulate", "--sysfs-root", "\(directory)/gen/sys", "--work-dir", "\(directory)/work"])
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.contains("scenario: made from \(directory)/gen/sys"), "\(result.output)")
            #expect(!result.output.contains("enp3s2") && !result.output.contains("0000:03:01.0"), "no q35 demo: \(result.output)")
            #expect(result.output.contains("--scenario FILE"), "says what to pass")
            #expect(result.output.contains("chain intact"))
        }
    }

    // MARK: Item 10: status takes --sysfs-root

    @Test func statusOnATreeAsksTheAgentOverThatTree() throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys"])
            let result = try CLI.run(["status", "--sysfs-root", "\(directory)/sys"])
            #expect(result.status == 1)
            #expect(result.errors.contains("no agent answers at \(directory)/run/vfio-warden/control.sock"), "\(result.errors)")
        }
    }

    // MARK: Item 11: a new VF is journaled as what happened

    @Test func aNewVFIsJournaledAsIsolatedNotAsAHostDriversClaim() throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["simulate", "--work-dir", "\(directory)/work"]).status == 0)
            let story = try CLI.run(["journal", "--journal", "\(directory)/work/journal", "--device", "0000:02:00.1"])
            #expect(story.output.contains("isolate 0000:02:00.1 before any host driver claims it"), "\(story.output)")
            #expect(!story.output.contains("0000:02:00.1 claimed by a host driver"), "\(story.output)")
        }
    }

    // MARK: Item 12: check's exit status

    @Test func checkExitStatusSaysAllClearBlockedOrPolicyError() throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["example-tree", "\(directory)/sys", "--with-proc"]).status == 0)
            try "[manage]\ndevices = [\"0000:00:00.0\"]\n".write(toFile: "\(directory)/host-bridge.toml", atomically: false, encoding: .utf8)
            try "[manage]\ngroup = [5]\n".write(toFile: "\(directory)/broken.toml", atomically: false, encoding: .utf8)
            let root = ["--sysfs-root", "\(directory)/sys"]
            #expect(try CLI.run(["check", "00:00.0", "--policy", "\(directory)/host-bridge.toml"] + root).status == 0)
            #expect(try CLI.run(["check", "00:1f.2", "--policy", "\(directory)/host-bridge.toml"] + root).status == 2)
            #expect(try CLI.run(["check", "--policy", "\(directory)/host-bridge.toml"] + root).status == 2)
            #expect(try CLI.run(["check", "--policy", "\(directory)/broken.toml"] + root).status == 3)
            #expect(try CLI.run(["check", "--policy", "\(directory)/broken.toml", "--validate-only"]).status == 3)
            #expect(try CLI.run(["check", "--policy", "\(directory)/missing.toml"] + root).status == 3)
            #expect(try CLI.run(["check", "09:00.0", "--policy", "\(directory)/host-bridge.toml"] + root).status == 1)
            let help = try CLI.run(["check", "--help"])
            #expect(help.output.contains("Exit status: 0 when every group checked could be assigned"), "\(help.output)")
        }
    }

    // MARK: Item 13: messages

    @Test func releaseTitlesNameWhatWasAskedWithoutBlanksOrQuestionMarks() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory, withProc: true)
            let tree = ["--sysfs-root", "\(directory)/sys", "--policy", "\(directory)/policy.toml", "--no-journald"]
            let byOwner = try CLI.run(["plan", "release", "--owner", "nobody"] + tree)
            #expect(!byOwner.output.contains("release : refused"), "\(byOwner.output)")
            #expect(byOwner.output.contains("release everything nobody holds: refused"), "\(byOwner.output)")
            let byAddress = try CLI.run(["release", "03:01.0", "--simulated-kernel"] + tree)
            #expect(!byAddress.output.contains("from ?"), "\(byAddress.output)")
            #expect(byAddress.output.contains("release 0000:03:01.0: refused"), "\(byAddress.output)")
        }
    }

    @Test func simulateSummaryCountsInTheRightNumber() throws {
        try CLI.withDirectory { directory in
            let result = try CLI.run(["simulate", "--work-dir", "\(directory)/work"])
            let summary = try #require(result.output.split(separator: "\n").first { $0.contains("put right") })
            #expect(summary.contains("1 host-driver claim put right"), "\(summary)")
            #expect(summary.firstMatch(of: #/(^|[^0-9])1 [a-z-]+s /#) == nil, "\(summary)")
        }
    }

    @Test func agentLogLinesSayWhatMadeThemNotTheModule() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory, withProc: true)
            try "[manage]\nvfs_of = [\"0000:02:00.0\"]\n\n[[sriov]]\npf = \"0000:02:00.0\"\nnumvfs = 2\nvf_driver = \"vfio-pci\"\n"
                .write(toFile: "\(directory)/policy.toml", atomically: false, encoding: .utf8)
            let agent = try CLI.run(["agent", "--simulated-kernel", "--no-control-socket", "--no-journald", "--sysfs-root", "\(directory)/sys",
                                     "--policy", "\(directory)/policy.toml"])
            #expect(agent.status == 0, "\(agent.errors)")
            let groupLines = agent.errors.split(separator: "\n").filter { $0.contains(" → ") && $0.contains("group ") }
            #expect(!groupLines.isEmpty, "\(agent.errors)")
            #expect(!agent.errors.contains("[Control]"), "\(agent.errors)")
            #expect(groupLines.allSatisfy { $0.contains("[start]") || $0.contains("[udev]") }, "\(groupLines)")
        }
    }

    @Test func planNumbersNeverRepeatInAJournalAcrossProcesses() throws {
        try CLI.withDirectory { directory in
            try Self.q35(directory, withProc: true)
            let tree = ["--sysfs-root", "\(directory)/sys", "--policy", "\(directory)/policy.toml", "--no-journald", "--simulated-kernel"]
            // Killed in the middle of its plan, the assign is finished by the next agent's crash recovery: two plans.
            let crashed = try CLI.run(["assign", "03:01.0", "--owner", "vm1"] + tree, environment: ["VFIO_WARDEN_CRASH_AT": "3"])
            #expect(crashed.status == 137, "\(crashed.errors)")
            #expect(try CLI.run(["agent", "--no-control-socket"] + tree).status == 0)
            #expect(try CLI.run(["release", "--owner", "vm1"] + tree).status == 0)
            let planned = try CLI.run(["journal", "--sysfs-root", "\(directory)/sys", "--kind", "action_planned", "--json"])
            let ids = planned.output.split(separator: "\n").compactMap { line -> Int? in
                let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return (record?["data"] as? [String: Any])?["planID"] as? Int
            }
            #expect(ids.count == 3, "the assign, its recovery, the release: \(planned.output)")
            #expect(Set(ids).count == ids.count, "plan numbers repeat: \(ids)")
        }
    }

    @Test func anEmptyJournalSaysItIsEmpty() throws {
        try CLI.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: "\(directory)/journal", withIntermediateDirectories: true)
            let result = try CLI.run(["journal", "--journal", "\(directory)/journal"])
            #expect(result.status == 0)
            #expect(result.output == "the journal in \(directory)/journal is empty (no records yet)\n", "\(result.output)")
        }
    }

    @Test func aMissingScenarioFileIsNamedWithItsErrno() throws {
        try CLI.withDirectory { directory in
            let result = try CLI.run(["simulate", "--scenario", "\(directory)/missing.toml", "--work-dir", "\(directory)/work"])
            #expect(result.status == 1)
            #expect(result.errors.contains("open \(directory)/missing.toml: No such file or directory (errno 2)"), "\(result.errors)")
            #expect(!result.errors.contains("could not be completed"))
        }
    }

    @Test(.enabled(if: access("/etc/vfio-warden/policy.toml", F_OK) != 0, "this machine has a default policy"))
    func rulesGenerateWithoutTheDefaultPolicyIsMonitorOnlyAsCheckIs() throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys", "--with-proc"])
            let check = try CLI.run(["check", "--sysfs-root", "\(directory)/sys"])
            #expect(check.output.contains("monitor-only"))
            let rules = try CLI.run(["rules", "generate", "--sysfs-root", "\(directory)/sys"])
            #expect(rules.status == 0, "\(rules.errors)")
            #expect(rules.output.hasPrefix("# 70-vfio-warden.rules: generated by vfio-warden"), "\(rules.output)")
            #expect(!rules.output.contains("0000:03:01.0"), "no rule for a monitor-only policy")
        }
    }

    @Test func aStagedInstallsRulesHeaderRecommendsAScanningRegeneration() throws {
        try CLI.withDirectory { directory in
            try "[manage]\ndevices = [\"0000:03:01.0\"]\n\n[[assign]]\ndevice = \"0000:03:01.0\"\nowner = \"vm1\"\n"
                .write(toFile: "\(directory)/policy.toml", atomically: false, encoding: .utf8)
            let rules = try CLI.run(["rules", "generate", "--policy", "\(directory)/policy.toml", "--no-scan"])
            #expect(rules.status == 0, "\(rules.errors)")
            let regenerate = try #require(rules.output.split(separator: "\n").first { $0.hasPrefix("#   vfio-warden rules generate") })
            #expect(!regenerate.contains("--no-scan"), "\(regenerate)")
            #expect(rules.errors.contains("group siblings"), "the staged file still says what it lacks: \(rules.errors)")
        }
    }

    @Test func theScenarioFormatIsDocumentedInTheManPageSourceAndDocs() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: repository.appendingPathComponent("docs/scenarios.md"), encoding: .utf8)
        let help = try CLI.run(["simulate", "--help"]).output
        for word in ["say", "rebind", "load-module", "create-vfs", "remove", "rescan", "overflow", "link-down",
                     "command = \"assign\"", "command = \"release\"", "command = \"status\"", "command = \"journal\"",
                     "interface = ", "module = ", "pf = ", "count = "] {
            #expect(docs.contains(word), "docs/scenarios.md lacks \(word)")
            #expect(help.contains(word), "simulate --help (the man page's source) lacks \(word)")
        }
    }
}
