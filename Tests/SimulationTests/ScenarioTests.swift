import Testing
import Foundation
import Agent
import Journal
import Policy
import SimulatedKernel
import Sysfs
import Topology
@testable import Simulation

@Suite struct ScenarioTests {
    /// Plays the built-in scenario on the built-in host and policy, as `simulate` with no arguments does.
    @Test func theBuiltInScenarioShowsTheThreeJobs() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-sim-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try SimulationHost.prepare(in: directory, sysfs: nil, proc: nil, journal: nil)
        let kernel = SimulatedKernel(tree: SysfsTree(existingAt: host.sys), devDirectory: host.dev)
        _ = kernel.takeEmittedEvents()
        let journal = try JournalWriter(directory: host.journal)
        let binding = PolicyBinding(policy: try Policy.parse(text: BuiltInScenario.policy, file: "built-in"), sysfs: host.sys, proc: host.proc)
        let engine = try Engine(Engine.Configuration(root: host.sys, writer: kernel, journal: journal, verdicts: { binding.verdicts(for: $0) },
                                                     sriovRules: binding.sriovRules))
        let lines = LineCollector()
        let runner = ScenarioRunner(kernel: kernel, engine: engine, journalDirectory: host.journal) { lines.append($0) }
        try await runner.run(BuiltInScenario.scenario)
        journal.close()
        let text = lines.all.joined(separator: "\n")

        // Job 1: every VF went to vfio-pci, and no host driver was ever bound to a VF.
        let graph = try TopologyGraph.scan(root: host.sys)
        let vfs = graph.devices.values.filter { $0.physfn != nil }
        #expect(vfs.count == 4)
        #expect(vfs.allSatisfy { $0.driver == "vfio-pci" })
        #expect(!text.contains("bind 0000:02:00.1 driver=nvme"))
        // Whole-group safety: refused while enp3s2 was up, done once it was down; the SATA group always refused.
        #expect(text.contains("0000:03:02.0: is in use by the host: carries enp3s2, which is up"))
        #expect(text.contains("assign 0000:03:01.0 to vm1 (group 4): done, 6 steps"))
        #expect(text.contains("0000:00:1f.2: is in use by the host: backs / (mounted ext4 filesystem on sda, 8:0)"))
        #expect(graph.devices[.literal("0000:00:1f.2")]?.driver == "ahci")
        // Job 2: the hand-bound e1000 was put back, then released to e1000 at the end.
        #expect(text.contains("violation: e1000 claimed 0000:03:01.0 assigned to vm1: done"))
        #expect(graph.devices[.literal("0000:03:01.0")]?.driver == "e1000")
        #expect(graph.devices[.literal("0000:03:02.0")]?.driver == "virtio-pci")
        #expect(runner.summary.violationsFixed == 1 && runner.summary.devicesIsolated == 6 && runner.summary.refusals == 2 && runner.summary.failures == 0)
        // Job 3: the journal tells the story and its chain verifies.
        #expect(text.contains("e1000 claimed 0000:03:01.0 while assigned to vm1 → rebound to vfio-pci"))
        #expect(text.contains("chain intact"))
        #expect(try JournalVerifier.verify(directory: host.journal).isIntact)
    }

    @Test func aScenarioFileParses() throws {
        let scenario = try ScenarioParser.parse(text: """
            name = "rebind"
            [[step]]
            command = "assign"
            devices = ["03:01.0"]
            owner = "vm1"
            [[step]]
            kernel = "rebind"
            device = "0000:03:01.0"
            driver = "e1000"
            [[step]]
            kernel = "create-vfs"
            pf = "0000:02:00.0"
            count = 2
            [[step]]
            command = "release"
            owner = "vm1"
            """, file: "s.toml")
        #expect(scenario.name == "rebind")
        #expect(scenario.steps == [
            .assign(devices: [.literal("0000:03:01.0")], owner: "vm1"),
            .kernel(.rebind(.literal("0000:03:01.0"), driver: "e1000")),
            .kernel(.createVFs(pf: .literal("0000:02:00.0"), count: 2)),
            .release(owner: "vm1", devices: []),
        ])
    }

    @Test(arguments: [
        ("[[step]]\nkernel = \"explode\"\n", "s.toml:2:10: step[0].kernel: unknown happening 'explode'"),
        ("[[step]]\ncommand = \"assign\"\ndevices = [\"03:1\"]\nowner = \"vm1\"\n", "s.toml:3:12: step[0].devices[0]: expected a PCI address"),
        ("[[step]]\nkernel = \"rebind\"\ndevice = \"0000:03:01.0\"\n", "s.toml:1:3: step[0]: expected driver"),
        ("[[step]]\nwhat = 1\n", "s.toml:2:1: step[0].what: unknown key"),
        ("name = \"x\"\n", "s.toml: no [[step]] entries"),
        ("[[step]\n", "s.toml:1:"),
    ])
    func badScenariosNameFileLineAndColumn(text: String, expected: String) {
        #expect {
            try ScenarioParser.parse(text: text, file: "s.toml")
        } throws: { error in
            (error as? ScenarioError)?.description.hasPrefix(expected) == true
        }
    }
}

/// Collects lines from the runner's output callback.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
