import Agent
import Foundation
import ArgumentParser
import Crypto
import Enforcement
import Journal
import Policy
import SimulatedKernel
import Simulation
import Sysfs
import Topology

/// `vfio-warden simulate`: the real engine against the simulated kernel.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the real engine against a simulated kernel: SR-IOV, enforcement and the journal, without hardware.",
        discussion: """
            With no arguments, plays a built-in scenario on the built-in q35 host with a built-in policy: VFs \
            created under an [[sriov]] rule go straight to vfio-pci; assigning a group whose sibling carries an \
            interface that is up is refused, then allowed once it is down; the SATA controller's group is refused; \
            a host driver bound by hand is reverted; the journal tells the story and verifies.

            --sysfs-root takes a snapshot (directory or tarball) or a generated tree; it is copied first and the \
            copy is what changes. Without --scenario, a tree given plays a scenario made from it (the agent starts, \
            then every group's state and the journal), never the built-in one; without --proc-root it reads the \
            proc/ beside the tree (D/proc for D/sys). The working directory, with the journal, is left behind.

            Scenario files (TOML; docs/scenarios.md has examples): optional top-level `name` and `description` \
            strings, then one [[step]] table per step, played in order after the agent has started. Each step has \
            exactly one of:
              say = "TEXT"                                  narration, printed as a heading;
              kernel = "rebind", device = "ADDR", driver = "NAME"   someone binds a host driver by hand;
              kernel = "load-module", module = "NAME"       a driver module loads and claims what it matches;
              kernel = "create-vfs", pf = "ADDR", count = N someone writes sriov_numvfs;
              kernel = "remove", device = "ADDR"            echo 1 > remove;
              kernel = "rescan"                             echo 1 > /sys/bus/pci/rescan;
              kernel = "overflow"                           the uevent socket overflows (ENOBUFS): full rescan;
              kernel = "link-down", interface = "NAME"      ip link set NAME down;
              command = "assign", devices = ["ADDR", ...], owner = "NAME"   (or device = "ADDR");
              command = "release", owner = "NAME" and/or devices = ["ADDR", ...];
              command = "status"                            every group's state;
              command = "journal" [, device = "ADDR"]       the journal's story, then `journal verify`.
            Addresses are 0000:03:01.0 or 03:01.0. An unknown key, a missing field or a bad address is an error \
            naming FILE:LINE:COLUMN and the step (step[2].device); an unreadable file names the file and the errno.
            """
    )

    @Option(name: .customLong("sysfs-root"), help: ArgumentHelp("A sysfs tree to simulate (copied first); default: the built-in q35 host.", valueName: "dir"))
    var sysfsRoot: String?

    @Option(help: ArgumentHelp(
        "Scenario file (TOML, see docs/scenarios.md); default: the built-in scenario, or with --sysfs-root one made "
            + "from that tree (its groups' states and the journal).", valueName: "file"))
    var scenario: String?

    @Option(help: ArgumentHelp("Policy file; default: the built-in policy for the built-in host, monitor-only otherwise.", valueName: "file"))
    var policy: String?

    @Option(name: .customLong("proc-root"), help: ArgumentHelp(
        "A proc tree for host-use analysis; default: for the built-in host, one where the q35 disk sda is mounted at /; "
            + "for --sysfs-root D/sys, the proc/ beside it (D/proc).", valueName: "dir"))
    var procRoot: String?

    @Option(help: ArgumentHelp("Where the journal goes; default: journal/ in the working directory.", valueName: "dir"))
    var journal: String?

    @Option(name: .customLong("work-dir"), help: ArgumentHelp("Working directory (must not exist); default: a new one under $TMPDIR.", valueName: "dir"))
    var workDirectory: String?

    func validate() throws {
        if let workDirectory, SysfsRoot(workDirectory).existsWithoutFollowing("") {
            throw ValidationError("--work-dir \(workDirectory) already exists; give a new directory")
        }
    }

    func run() async throws {
        let scenario = try loadScenario()
        let (policy, policyText) = try loadPolicy()
        let directory = try workDirectory ?? Tarball.temporaryDirectory(prefix: "vfio-warden-simulate")
        var source: ResolvedSysfsRoot?
        if let sysfsRoot {
            source = try GlobalOptions(sysfsRoot: sysfsRoot).resolvedRoot()
        }
        // A tree given: its own proc/ (beside it, or --proc-root), never the built-in q35 host's nor the machine's.
        var proc = procRoot
        if let sysfsRoot, proc == nil {
            let beside = StateLocations.proc(given: nil, sysfsRoot: sysfsRoot)
            if let warning = beside.warning { StandardError.write("warning: \(warning)\n") }
            proc = beside.path
        }
        let host = try SimulationHost.prepare(in: directory, sysfs: source?.root, proc: proc.map(SysfsRoot.init), journal: journal)
        let kernel = try SimulatedKernelOption.kernel(over: host.sys, devDirectory: host.dev)
        _ = kernel.takeEmittedEvents()
        let writer: JournalWriter
        do {
            writer = try JournalWriter(directory: host.journal)
        } catch {
            throw CommandFailure("cannot open the journal in \(host.journal): \(error)")
        }
        defer { writer.close() }
        try await writer.append(.policyLoaded(PolicyLoaded(path: policy.file, sha256: sha256(policyText),
                                                          rules: policy.manage.count + policy.protect.count + policy.assignments.count + policy.sriov.count)),
                                cause: .agent("simulate"))
        let binding = PolicyBinding(policy: policy, sysfs: host.sys, proc: host.proc)
        let graph = try scanGraph(host.sys)
        let engine = try Engine(Engine.Configuration(
            root: host.sys, writer: kernel, journal: writer, store: AssignmentStore(directory: host.state),
            verdicts: { binding.verdicts(for: $0) }, sriovRules: binding.sriovRules,
            staticAssignments: binding.staticAssignments(in: graph), stepTimeout: .seconds(5),
            hostUse: { binding.hostUse(of: $1, in: $0) }))
        let runner = ScenarioRunner(kernel: kernel, engine: engine, journalDirectory: host.journal) { line in
            StandardOutput.write(line + "\n")
        }
        try await runner.run(scenario)
        let summary = runner.summary
        StandardOutput.write("""

            \(counted(summary.events, "uevent")), \(counted(summary.violationsFixed, "host-driver claim")) put right, \(counted(summary.devicesIsolated, "new device")) isolated before any host driver, \(counted(summary.refusals, "request")) refused, \(counted(summary.failures, "plan")) rolled back.
            Left behind in \(directory):
              vfio-warden journal --journal \(host.journal)
              vfio-warden list --sysfs-root \(host.sys)

            """)
    }

    /// `1 uevent`, `2 uevents`.
    func counted(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    /// The `--scenario` file; without one, the built-in scenario on the built-in host, or a scenario made from the
    /// tree given with `--sysfs-root` (the built-in one names the q35 host's devices, absent from another tree).
    func loadScenario() throws -> Scenario {
        guard let scenario else {
            return sysfsRoot.map { TreeScenario.make(for: $0) } ?? BuiltInScenario.scenario
        }
        let text: String
        do {
            text = try ScenarioFile.read(scenario)
        } catch {
            throw CommandFailure("cannot read --scenario: \(error)")
        }
        do {
            return try ScenarioParser.parse(text: text, file: scenario)
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    func loadPolicy() throws -> (Policy, String) {
        if let policy {
            do {
                let parsed = try Policy.loadWithSource(path: policy)
                return (parsed.policy, String(decoding: parsed.bytes, as: UTF8.self))
            } catch {
                throw CommandFailure("\(error)")
            }
        }
        if sysfsRoot != nil { return (.monitorOnly(file: "(no --policy: monitor-only)"), "") }
        do {
            return (try Policy.parse(text: BuiltInScenario.policy, file: "(built-in policy)"), BuiltInScenario.policy)
        } catch {
            throw CommandFailure("the built-in policy is invalid: \(error)")
        }
    }

    func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { hex($0, width: 2) }.joined()
    }
}

