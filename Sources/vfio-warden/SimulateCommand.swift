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
            copy is what changes. --scenario takes a TOML timeline of [[step]]s: `say`, `kernel` (rebind, \
            load-module, create-vfs, remove, rescan, overflow, link-down) and `command` (assign, release, status, \
            journal). The working directory, with the journal, is left behind.
            """
    )

    @Option(name: .customLong("sysfs-root"), help: ArgumentHelp("A sysfs tree to simulate (copied first); default: the built-in q35 host.", valueName: "dir"))
    var sysfsRoot: String?

    @Option(help: ArgumentHelp("Scenario file (TOML); default: the built-in scenario.", valueName: "file"))
    var scenario: String?

    @Option(help: ArgumentHelp("Policy file; default: the built-in policy for the built-in host, monitor-only otherwise.", valueName: "file"))
    var policy: String?

    @Option(name: .customLong("proc-root"), help: ArgumentHelp("A proc tree for host-use analysis; default: one where the q35 disk sda is mounted at /.", valueName: "dir"))
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
        let host = try SimulationHost.prepare(in: directory, sysfs: source?.root, proc: procRoot.map(SysfsRoot.init), journal: journal)
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

            \(summary.events) uevents, \(summary.violationsFixed) host-driver claims put right, \(summary.devicesIsolated) new devices isolated before any host driver, \(summary.refusals) requests refused, \(summary.failures) plans rolled back.
            Left behind in \(directory):
              vfio-warden journal --journal \(host.journal)
              vfio-warden list --sysfs-root \(host.sys)

            """)
    }

    func loadScenario() throws -> Scenario {
        guard let scenario else { return BuiltInScenario.scenario }
        let text: String
        do {
            text = try String(contentsOfFile: scenario, encoding: .utf8)
        } catch {
            throw CommandFailure("cannot read scenario \(scenario): \(error.localizedDescription)")
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
                let parsed = try Policy.load(path: policy)
                return (parsed, (try? String(contentsOfFile: policy, encoding: .utf8)) ?? "")
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

