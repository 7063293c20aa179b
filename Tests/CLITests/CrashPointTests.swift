import Foundation
import Testing

/// Fault injection at every crash point (`VFIO_WARDEN_CRASH_AT`, see `Sources/Sysfs/CrashPoint.swift`): for each
/// operation, an uncrashed run counts the crash points N it passes (after each durable journal commit, after each
/// sysfs write); then for every k in 1...N a fresh host runs the operation killed at the kth (`_exit(137)`, no
/// unwinding), the agent is started on what it left (crash recovery and start-up reconciliation, one-shot on the
/// simulated kernel: `--simulated-kernel`), and the invariants are checked:
/// - the journal verifies (`journal verify`);
/// - no device outside the allowlist was ever written (the simulated kernel's write log, across both processes);
/// - no member of an assigned group is on a host driver once the agent is up;
/// - the operation's own outcome: an assign is finished (the group isolated, the drivers it had remembered), a
///   release is finished (the members back on their original drivers), a violation is put right, the VFs exist
///   and are on vfio-pci.
/// Everything runs on temporary trees through the simulated kernel; nothing touches the machine's `/sys`.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct CrashPointTests {
    @Test(arguments: CrashOperation.allCases)
    func everyCrashPointLeavesAStateTheAgentRecoversFrom(_ operation: CrashOperation) throws {
        try CLI.withDirectory { directory in
            let fixture = try CrashFixture(directory: directory, operation: operation)
            let counting = CrashHost(directory: "\(directory)/uncrashed", fixture: fixture)
            let uncrashed = try counting.run(crashAt: nil)
            // The rolled-back assign fails by design (exit 1), after its rollback.
            #expect(uncrashed.status == (operation == .assignRolledBack ? 1 : 0), "\(operation) without a crash: \(uncrashed.errors)")
            try counting.restartAndCheck("\(operation), uncrashed", planned: true)
            let points = counting.trace
            #expect(!points.isEmpty, "\(operation): no crash point passed")
            for k in points.indices.map({ $0 + 1 }) {
                let host = CrashHost(directory: "\(directory)/crash-\(k)", fixture: fixture)
                let crashed = try host.run(crashAt: k)
                let label = "\(operation) killed at crash point \(k) (\(points[k - 1]))"
                #expect(crashed.status == 137, "\(label): exit status \(crashed.status): \(crashed.errors)")
                #expect(host.trace.last == points[k - 1], "\(label): the crashed run died at \(host.trace.last ?? "nothing")")
                // Killed before its first plan was durable, an operation has changed nothing: there is nothing to finish.
                let planned = host.trace.contains { $0.hasPrefix("journal ") && $0.contains("action_planned") }
                try host.restartAndCheck(label, planned: planned)
                try? FileManager.default.removeItem(atPath: host.directory)
            }
            let journalPoints = points.filter { $0.hasPrefix("journal ") }.count
            print("crash points: \(operation): \(points.count) covered (\(journalPoints) after a journal commit, "
                  + "\(points.count - journalPoints) after a sysfs write), each killed, restarted and checked")
        }
    }
}

/// What is crashed: a command of the product, on the q35 example host (`example-tree`).
enum CrashOperation: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `assign 03:01.0 --owner vm1`: the bridge group's e1000 and virtio-net to vfio-pci.
    case assign
    /// The same, with the sibling quarantined (`driver_override=none`, no driver).
    case assignQuarantineNone = "assign --quarantine none"
    /// `release --owner vm1` of that group, assigned first (uncrashed).
    case release
    /// `assign 03:01.0 --owner vm1` whose virtio-net unbind fails (EIO): the executor rolls the e1000 back, and the
    /// kill lands in the plan or in its rollback.
    case assignRolledBack = "assign, rolled back"
    /// `simulate`: the group is assigned, then someone binds the e1000 back to e1000 by hand while the engine runs.
    case enforcement
    /// `agent` with an `[[sriov]]` rule: 2 VFs of the NVMe PF, to vfio-pci.
    case sriov

    var testDescription: String { rawValue }

    static let e1000 = "0000:03:01.0", virtio = "0000:03:02.0", pf = "0000:02:00.0", vfs = ["0000:02:00.1", "0000:02:00.2"]
    /// The write that fails in `assignRolledBack`.
    static let failingWrite = "bus/pci/drivers/virtio-pci/unbind"

    var policy: String {
        switch self {
        case .assign, .assignQuarantineNone, .release, .enforcement, .assignRolledBack:
            return "[manage]\ndevices = [\"\(Self.e1000)\", \"\(Self.virtio)\"]\n"
        case .sriov:
            return "[manage]\nvfs_of = [\"\(Self.pf)\"]\n\n[[sriov]]\npf = \"\(Self.pf)\"\nnumvfs = 2\nvf_driver = \"vfio-pci\"\nmanage_pf = true\n"
        }
    }

    /// The devices the policy names ([manage] devices, the [[sriov]] PF and the VFs of `vfs_of`): nothing else
    /// may ever be written.
    var allowlist: Set<String> {
        switch self {
        case .assign, .assignQuarantineNone, .release, .enforcement, .assignRolledBack: return [Self.e1000, Self.virtio]
        case .sriov: return Set([Self.pf] + (1...4).map { "0000:02:00.\($0)" })
        }
    }

    static let scenario = """
        name = "crash points: a host driver claims an assigned member"
        [[step]]
        command = "assign"
        devices = ["\(e1000)"]
        owner = "vm1"
        [[step]]
        kernel = "rebind"
        device = "\(e1000)"
        driver = "e1000"
        """
}

/// The files every host of one operation shares: the base tree, a proc tree, the policy, the scenario.
struct CrashFixture {
    let directory: String
    let operation: CrashOperation
    var base: String { directory + "/base" }
    var proc: String { directory + "/proc" }
    var policy: String { directory + "/policy.toml" }
    var scenario: String { directory + "/scenario.toml" }

    init(directory: String, operation: CrashOperation) throws {
        self.directory = directory
        self.operation = operation
        let made = try CLI.run(["example-tree", base])
        guard made.status == 0 else { throw CrashTestError("example-tree: \(made.errors)") }
        // The virtio-net's interface is down, so the bridge group may be assigned.
        try "down\n".write(toFile: "\(base)/class/net/enp3s2/operstate", atomically: false, encoding: .utf8)
        try "0x1002\n".write(toFile: "\(base)/class/net/enp3s2/flags", atomically: false, encoding: .utf8)
        let procFiles = [
            "self/mountinfo": "22 1 8:0 / / rw,relatime shared:1 - ext4 /dev/sda rw\n",
            "swaps": "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
            "net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
            "net/ipv6_route": "", "net/if_inet6": "",
        ]
        for (name, content) in procFiles {
            let path = "\(proc)/\(name)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: path, atomically: false, encoding: .utf8)
        }
        try operation.policy.write(toFile: policy, atomically: false, encoding: .utf8)
        try CrashOperation.scenario.write(toFile: scenario, atomically: false, encoding: .utf8)
    }
}

/// One host: `sys` (a copy of the base tree), `journal`, `state`, `run`; the write log and the crash trace beside it.
struct CrashHost {
    let directory: String
    let fixture: CrashFixture
    var sys: String { directory + "/sys" }
    var writeLog: String { directory + ".writes" }
    var traceFile: String { directory + ".trace" }

    init(directory: String, fixture: CrashFixture) {
        self.directory = directory
        self.fixture = fixture
    }

    var engineArguments: [String] {
        ["--sysfs-root", sys, "--proc-root", fixture.proc, "--policy", fixture.policy, "--journal", directory + "/journal",
         "--state-dir", directory + "/state", "--no-journald", "--simulated-kernel"]
    }

    var environment: [String: String] { ["VFIO_WARDEN_SIMULATED_WRITE_LOG": writeLog] }

    /// Prepares the host (and the assignment a release needs), then runs the operation, killed at crash point
    /// `crashAt` (`nil`: not killed), tracing the crash points it passes.
    func run(crashAt: Int?) throws -> CLI.Result {
        var armed = environment
        armed["VFIO_WARDEN_CRASH_TRACE"] = traceFile
        if let crashAt { armed["VFIO_WARDEN_CRASH_AT"] = String(crashAt) }
        // `simulate` copies the base tree into its working directory, which must not exist yet.
        if fixture.operation != .enforcement {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try TreeCopy.copy(fixture.base, to: sys)
        }
        switch fixture.operation {
        case .assign:
            return try CLI.run(["assign", CrashOperation.e1000, "--owner", "vm1"] + engineArguments, environment: armed)
        case .assignQuarantineNone:
            return try CLI.run(["assign", CrashOperation.e1000, "--owner", "vm1", "--quarantine", "none"] + engineArguments, environment: armed)
        case .assignRolledBack:
            armed["VFIO_WARDEN_SIMULATED_FAIL_WRITE"] = CrashOperation.failingWrite
            return try CLI.run(["assign", CrashOperation.e1000, "--owner", "vm1"] + engineArguments, environment: armed)
        case .release:
            let assigned = try CLI.run(["assign", CrashOperation.e1000, "--owner", "vm1"] + engineArguments, environment: environment)
            guard assigned.status == 0 else { throw CrashTestError("the assign before the release failed: \(assigned.errors)") }
            return try CLI.run(["release", "--owner", "vm1"] + engineArguments, environment: armed)
        case .enforcement:
            return try CLI.run(["simulate", "--sysfs-root", fixture.base, "--scenario", fixture.scenario, "--policy", fixture.policy,
                                "--proc-root", fixture.proc, "--work-dir", directory], environment: armed)
        case .sriov:
            return try CLI.run(agentArguments, environment: armed)
        }
    }

    var agentArguments: [String] {
        ["agent"] + engineArguments + ["--run-dir", directory + "/run", "--no-control-socket"]
    }

    /// The crash points the last traced run passed, in order (`journal step_started`, `sysfs bus/pci/...`).
    var trace: [String] {
        let text = (try? String(contentsOfFile: traceFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in String(line.split(separator: "\t", maxSplits: 1).last ?? "") }
    }

    /// Starts the agent on what the operation left (it exits once its own events are handled), then checks the
    /// invariants. `planned`: whether the operation's first plan reached the journal before the crash.
    func restartAndCheck(_ label: String, planned: Bool) throws {
        let restarted = try CLI.run(agentArguments, environment: environment)
        #expect(restarted.status == 0, "\(label): the restarted agent failed: \(restarted.errors)")
        let verify = try CLI.run(["journal", "verify", "--journal", directory + "/journal"])
        #expect(verify.status == 0, "\(label): the journal does not verify: \(verify.output) \(verify.errors)")

        let written = try writtenDevices()
        let outside = written.filter { !fixture.operation.allowlist.contains($0.device) }
        #expect(outside.isEmpty, "\(label): writes outside the allowlist: \(outside)")

        let tree = TreeReader(sys: sys)
        let assignments = try AssignmentFile.read(directory + "/state/assignments.json")
        for assignment in assignments {
            for member in assignment.members where !member.isBridge {
                let driver = tree.driver(member.address)
                #expect(driver == nil || driver == "vfio-pci" || driver == "pci-stub",
                        "\(label): \(member.address), assigned to \(assignment.owner), is on the host driver \(driver ?? "-")")
            }
        }
        let e1000 = CrashOperation.e1000, virtio = CrashOperation.virtio
        switch fixture.operation {
        case .enforcement where !planned:
            // `simulate` died while starting, before the assign: nothing was assigned or written.
            #expect(assignments.isEmpty, "\(label): assignments \(assignments)")
            #expect(tree.driver(e1000) == "e1000" && tree.driver(virtio) == "virtio-pci",
                    "\(label): \(e1000) on \(tree.driver(e1000) ?? "-"), \(virtio) on \(tree.driver(virtio) ?? "-")")
        case .assign, .assignQuarantineNone, .enforcement:
            // The assign was journaled before the crash: recovery finishes it.
            #expect(assignments.map(\.owner) == ["vm1"], "\(label): assignments \(assignments)")
            let remembered = Dictionary(uniqueKeysWithValues: (assignments.first?.members ?? []).map { ($0.address, $0.originalDriver) })
            #expect(remembered[e1000] == "e1000" && remembered[virtio] == "virtio-pci",
                    "\(label): release would restore \(remembered), not the drivers the members had")
            #expect(tree.driver(e1000) == "vfio-pci", "\(label): \(e1000) on \(tree.driver(e1000) ?? "-")")
            if fixture.operation == .assignQuarantineNone {
                #expect(tree.driver(virtio) == nil && tree.override(virtio) == "none",
                        "\(label): \(virtio) on \(tree.driver(virtio) ?? "-"), driver_override \(tree.override(virtio) ?? "(null)")")
            } else {
                #expect(tree.driver(virtio) == "vfio-pci", "\(label): \(virtio) on \(tree.driver(virtio) ?? "-")")
            }
        case .assignRolledBack:
            // Killed after the failed step was journaled, the executor was rolling back: recovery finishes the
            // rollback (the group where it started). Killed before, the plan was still going: recovery finishes
            // the assign (the failing write fails no more). Never the e1000 on vfio-pci without an assignment.
            let failedAt = trace.firstIndex { $0.hasPrefix("sysfs \(CrashOperation.failingWrite)") }
            let rollingBack = failedAt.map { index in trace.indices.contains { $0 > index && trace[$0].hasPrefix("journal ") } } ?? false
            if rollingBack {
                #expect(assignments.isEmpty, "\(label): assignments \(assignments)")
                for (address, original) in [(e1000, "e1000"), (virtio, "virtio-pci")] {
                    #expect(tree.driver(address) == original && tree.override(address) == nil,
                            "\(label): \(address) is on \(tree.driver(address) ?? "-") with driver_override \(tree.override(address) ?? "(null)"), not back on \(original)")
                }
            } else if assignments.isEmpty {
                #expect(tree.driver(e1000) != "vfio-pci", "\(label): \(e1000) on vfio-pci with no assignment")
            } else {
                #expect(tree.driver(e1000) == "vfio-pci" && tree.driver(virtio) == "vfio-pci", "\(label): assigned but not isolated")
            }
        case .release:
            // Every crash point comes after the release plan was journaled (the assign before it is not crashed):
            // recovery finishes it.
            #expect(assignments.isEmpty, "\(label): still assigned: \(assignments)")
            for (address, original) in [(e1000, "e1000"), (virtio, "virtio-pci")] {
                #expect(tree.driver(address) == original && tree.override(address) == nil,
                        "\(label): released \(address) is on \(tree.driver(address) ?? "-") with driver_override \(tree.override(address) ?? "(null)"), not back on \(original)")
            }
        case .sriov:
            let pf = CrashOperation.pf
            #expect(tree.driver(pf) == "nvme" && tree.attribute(pf, "sriov_numvfs") == "2",
                    "\(label): the PF is on \(tree.driver(pf) ?? "-") with sriov_numvfs \(tree.attribute(pf, "sriov_numvfs") ?? "?")")
            for vf in CrashOperation.vfs {
                #expect(tree.driver(vf) == "vfio-pci", "\(label): VF \(vf) on \(tree.driver(vf) ?? "-")")
            }
        }
    }

    /// Every write the simulated kernel received, in both processes, with the device it addressed.
    func writtenDevices() throws -> [(path: String, device: String)] {
        let text = (try? String(contentsOfFile: writeLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let path = fields[0]
            let value = (fields.count > 1 ? fields[1] : "").replacingOccurrences(of: "\\n", with: "")
            let components = path.split(separator: "/").map(String.init)
            if path.hasPrefix("bus/pci/devices/"), components.count == 5 { return (path, components[3]) }
            if path.hasPrefix("devices/"), components.count >= 3 { return (path, components[components.count - 2]) }
            if path == "bus/pci/drivers_probe" || path.hasSuffix("/bind") || path.hasSuffix("/unbind") { return (path, value) }
            // new_id, remove_id, rescan: not one device, so not inside any allowlist.
            return (path, "(\(path))")
        }
    }
}

/// Reads a device's driver, `driver_override` and attributes from a tree.
struct TreeReader {
    let sys: String

    func driver(_ address: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(sys)/bus/pci/devices/\(address)/driver"))
            .map { ($0 as NSString).lastPathComponent }
    }

    func attribute(_ address: String, _ name: String) -> String? {
        (try? String(contentsOfFile: "\(sys)/bus/pci/devices/\(address)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func override(_ address: String) -> String? {
        attribute(address, "driver_override").flatMap { $0 == "(null)" ? nil : $0 }
    }
}

/// `STATE_DIR/assignments.json` as far as the checks need it.
struct AssignmentFile: Decodable {
    struct Table: Decodable { var assignments: [Assignment] }
    struct Assignment: Decodable, CustomStringConvertible {
        var owner: String
        var members: [Member]
        var description: String { "\(owner): \(members.map(\.address))" }
    }
    struct Member: Decodable {
        struct Identity: Decodable { var address: String }
        var identity: Identity
        var isBridge: Bool
        var originalDriver: String?
        var address: String { identity.address }
    }
    var table: Table

    /// The assignments in the file; none when there is no file (nothing was ever assigned).
    static func read(_ path: String) throws -> [Assignment] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try JSONDecoder().decode(AssignmentFile.self, from: data).table.assignments
    }
}

/// Copies a sysfs tree, symbolic links as links (they are relative), without a process per copy.
enum TreeCopy {
    static func copy(_ source: String, to destination: String) throws {
        let files = FileManager.default
        try files.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in try files.contentsOfDirectory(atPath: source) {
            let from = "\(source)/\(name)", to = "\(destination)/\(name)"
            let type = try files.attributesOfItem(atPath: from)[.type] as? FileAttributeType
            if type == .typeSymbolicLink {
                try files.createSymbolicLink(atPath: to, withDestinationPath: files.destinationOfSymbolicLink(atPath: from))
            } else if type == .typeDirectory {
                try copy(from, to: to)
            } else {
                try files.copyItem(atPath: from, toPath: to)
            }
        }
    }
}

struct CrashTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
