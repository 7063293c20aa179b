import Foundation
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// A temporary directory with the q35 example host on the simulated kernel, a journal, a state directory and
/// room for sockets; removed at the end.
struct TestHost {
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let virtio = PCIAddress.literal("0000:03:02.0")
    static let nvme = PCIAddress.literal("0000:02:00.0")

    let directory: String
    let kernel: SimulatedKernel
    var root: SysfsRoot { kernel.root }
    var journalDirectory: String { directory + "/journal" }
    var stateDirectory: String { directory + "/state" }
    /// A socket path short enough for `sockaddr_un` (108 bytes).
    let socketPath: String

    static func make() throws -> TestHost {
        let directory = FileManager.default.temporaryDirectory.path + "/vw-control-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory + "/sys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/proc", withIntermediateDirectories: true)
        let root = SysfsRoot(directory + "/sys")
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        _ = kernel.takeEmittedEvents()
        let socket = "/tmp/vw-\(UInt32.random(in: 0...UInt32.max)).sock"
        return TestHost(directory: directory, kernel: kernel, socketPath: socket)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
        unlink(socketPath)
    }

    /// Verdicts managing the e1000 and virtio NICs (the bridge group), as the engine tests do.
    static let managedNICs: @Sendable (TopologyGraph) -> VerdictTable = { graph in
        let managed: Set<PCIAddress> = [e1000, virtio]
        return VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.keys.filter(managed.contains).map {
            ($0, DeviceVerdict(managedBy: "manage.devices"))
        }))
    }

    func makeEngine(journal: JournalWriter?, writer: (any SysfsAttributeWriter)? = nil,
                    verdicts: @escaping @Sendable (TopologyGraph) -> VerdictTable = TestHost.managedNICs,
                    stepTimeout: Duration = .seconds(2)) throws -> Engine {
        try Engine(Engine.Configuration(
            root: root, writer: writer ?? kernel, journal: journal, store: AssignmentStore(directory: stateDirectory),
            verdicts: verdicts, stepTimeout: stepTimeout))
    }

    static let agentInfo = AgentStatus.Agent(version: "test", pid: getpid(), startedAt: 0, policy: "test.toml",
                                             monitorOnly: false, sysfsRoot: "/tmp/sys", journal: nil)
}

/// One request line in, one reply line out, decoded as JSON. The blocking socket calls run on a thread of their own
/// (as in a separate client process), never on Swift's cooperative pool, which the server's handler needs.
func exchange(_ line: String, at path: String) async throws -> [String: Any] {
    let reply = try await onThread { try ControlClient.rawExchange(Array(line.utf8), path: path) }
    return try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] ?? [:]
}

/// Runs blocking `body` on a new thread and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
    }
}

/// Waits until `condition` holds or `limit` passes (the caller checks the condition after).
func waitUntil(_ condition: () throws -> Bool, within limit: Duration = .seconds(10)) async rethrows {
    let deadline = ContinuousClock.now + limit
    while try !condition() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
}
