import Foundation
import Journal
import Synchronization
import Sysfs

/// A fresh directory under the system temporary folder for one test, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-journal-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

let nic = PCIAddress("0000:03:01.0")!
let nicPeer = PCIAddress("0000:03:01.1")!
let gpu = PCIAddress("0000:01:00.0")!
let nicGroup = GroupRef(devices: [nic, nicPeer], number: 14)
let gpuGroup = GroupRef(devices: [gpu], number: 2)

/// One event of every kind, with every payload field that can be set, set.
func sampleEvent(_ kind: RecordKind) -> JournalEvent {
    switch kind {
    case .eventSeen:
        .eventSeen(EventSeen(device: nic, devpath: "/devices/pci0000:00/0000:00:1c.0/0000:03:01.0", action: "bind",
                             seqnum: 4711, driver: "e1000e", group: nicGroup))
    case .groupStateChanged:
        .groupStateChanged(GroupStateChange(group: nicGroup, from: .isolated, to: .violated,
                                            reason: "0000:03:01.0 bound to e1000e", owner: "vm1"))
    case .violationDetected:
        .violationDetected(Violation(group: nicGroup, device: nic, driver: "e1000e", owner: "vm1"))
    case .actionPlanned:
        .actionPlanned(ActionPlan(planID: 7, group: nicGroup, owner: "vm1", reason: "isolate after violation", steps: [
            PlannedStep(device: nic, operation: "unbind", driverBefore: "e1000e", driverAfter: nil),
            PlannedStep(device: nic, operation: "driver_override", driverBefore: nil, driverAfter: "vfio-pci"),
            PlannedStep(device: nic, operation: "bind", driverBefore: nil, driverAfter: "vfio-pci"),
        ]))
    case .stepStarted:
        .stepStarted(StepStarted(planID: 7, step: 1, device: nic, operation: "unbind", driverBefore: "e1000e"))
    case .stepFinished:
        .stepFinished(StepFinished(planID: 7, step: 1, device: nic, operation: "unbind", driverBefore: "e1000e",
                                   driverAfter: nil, errno: 16, error: "Device or resource busy", durationNanos: 1_200_000))
    case .assignmentMade:
        .assignmentMade(Assignment(owner: "vm1", group: nicGroup, originalDrivers: ["0000:03:01.0": "e1000e", "0000:03:01.1": "e1000e"]))
    case .assignmentReleased:
        .assignmentReleased(Assignment(owner: "vm1", group: nicGroup, originalDrivers: nil))
    case .policyLoaded:
        .policyLoaded(PolicyLoaded(path: "/etc/vfio-warden/policy.toml", sha256: String(repeating: "ab", count: 32), rules: 12))
    case .policyRejected:
        .policyRejected(PolicyRejected(path: "/etc/vfio-warden/policy.toml", error: "unknown key 'alow'", line: 3, column: 1))
    case .agentStarted:
        .agentStarted(AgentStarted(version: "0.1.0", pid: 812))
    case .agentStopped:
        .agentStopped(AgentStopped(reason: "received SIGTERM", inFlight: ["udev bind 0000:03:01.0"]))
    case .agentResynced:
        .agentResynced(AgentResynced(changes: 2, summary: "0000:03:01.1 appeared"))
    case .recordRefused:
        .recordRefused(RecordRefused(reason: "torn tail", setAsideAs: "journal.torn.1", bytes: 37))
    case .recovery:
        .recovery(Recovery(planID: 7, reason: "assign to vm1", group: nicGroup, owner: "vm1", outcome: .rolledBack,
                           devices: [PlannedStep(device: nic, operation: "unbind", driverBefore: "e1000e")],
                           detail: "could not be finished; rolled back to the drivers the members had"))
    case .planFinished:
        .planFinished(PlanFinished(planID: 7, kind: .enforce, outcome: .rolledBack, failure: "unbind e1000e: Device or resource busy",
                                   failureKind: "write-failed", errno: 16))
    case .planRefused:
        .planRefused(PlanRefused(kind: "release", group: nicGroup, owner: "vm2", targets: [nic],
                                 reasons: ["0000:03:01.0: is assigned to vm1, not vm2"]))
    case .flapping:
        .flapping(Flapping(device: nic, group: nicGroup, owner: "vm1", driver: "e1000e", fights: 5, windowSeconds: 60,
                           backoffSeconds: 2))
    }
}

func sampleCause(_ kind: RecordKind) -> Cause {
    switch kind {
    case .eventSeen, .violationDetected: .udev(seqnum: 4711, action: "bind")
    case .assignmentMade, .assignmentReleased: .control("assign 0000:03:01.0 vm1", uid: 0, pid: 4242)
    case .policyLoaded, .policyRejected, .groupStateChanged: .policy(rule: "nic-vm1")
    case .agentResynced: .resync("periodic")
    default: .agent()
    }
}

/// A clock that starts at 2026-11-25 10:00:00 UTC and moves 1 ms per reading.
final class StepClock: Sendable {
    let readings = Mutex<Int64>(0)
    static let start: Int64 = 1_795_600_800_000_000   // 2026-11-25T10:00:00Z
    func next() -> (realtimeMicros: Int64, monotonicNanos: UInt64) {
        let n = readings.withLock { value -> Int64 in value += 1; return value }
        return (Self.start + n * 1000, UInt64(n) * 1_000_000)
    }
}

func writerOptions(clock: StepClock? = StepClock(), maxFileBytes: Int64 = 64 << 20, retained: Int = 10,
                   mirror: JournalMirror? = nil) -> JournalWriter.Options {
    var options = JournalWriter.Options()
    options.hostName = "testhost"
    options.maxFileBytes = maxFileBytes
    options.retainedFiles = retained
    options.mirror = mirror
    if let clock { options.clock = { clock.next() } }
    return options
}

/// Writes `count` records (cycling through the kinds) and closes the writer.
@discardableResult
func writeRecords(_ directory: String, count: Int, options: JournalWriter.Options? = nil) async throws -> [JournalRecord] {
    let writer = try JournalWriter(directory: directory, options: options ?? writerOptions())
    var written: [JournalRecord] = []
    for i in 0..<count {
        let kind = RecordKind.allCases[i % RecordKind.allCases.count]
        written.append(try await writer.append(sampleEvent(kind), cause: sampleCause(kind)))
    }
    writer.close()
    return written
}

func lines(of path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

func writeLines(_ lines: [String], to path: String) throws {
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
}
