// Journal throughput and latency beside SQLite's WAL (GRDB), measured in the same run on the same disk.
//
//   JournalBench bench DIR    run the benchmark with its files under DIR
//   JournalBench sample DIR   write a small realistic journal into DIR (to try `vfio-warden journal`)
import Dispatch
import Foundation
import GRDB
import Journal
import Sysfs

let nic = PCIAddress("0000:03:01.0")!
let group = GroupRef(devices: [nic, PCIAddress("0000:03:01.1")!], number: 14)
/// A typical record: a udev event as the agent sees hundreds of at boot or on SR-IOV VF creation.
let event = JournalEvent.eventSeen(EventSeen(device: nic, devpath: "/devices/pci0000:00/0000:00:1c.0/0000:03:01.0",
                                             action: "bind", seqnum: 4711, driver: "e1000e", group: group))
let cause = Cause.udev(seqnum: 4711, action: "bind")

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
func rate(_ n: Int, _ s: Double) -> String { String(format: "%.0f records/s", Double(n) / s) }
func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
func p99(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[min(s.count - 1, Int((0.99 * Double(s.count)).rounded(.up)) - 1)] }
let clock = ContinuousClock()

func options() -> JournalWriter.Options {
    var o = JournalWriter.Options()
    o.hostName = "bench"
    o.maxFileBytes = 1 << 30
    return o
}

func journalGroupCommit(dir: String, appenders: Int, perAppender: Int) async throws {
    let writer = try JournalWriter(directory: dir, options: options())
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        for _ in 0..<appenders {
            tasks.addTask { for _ in 0..<perAppender { try await writer.append(event, cause: cause) } }
        }
        try await tasks.waitForAll()
    }
    let elapsed = seconds(clock.now - start)
    let n = appenders * perAppender
    let commits = writer.commitCount
    writer.close()
    print("journal, group commit, \(appenders) concurrent appenders: \(n) durable records in \(String(format: "%.2f", elapsed)) s = \(rate(n, elapsed)) (\(commits) write+fsync commits, \(String(format: "%.1f", Double(n) / Double(commits))) records per commit)")
}

func journalSequential(dir: String, samples: Int) throws {
    let writer = try JournalWriter(directory: dir, options: options())
    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        try writer.appendAndWait(event, cause: cause)
        latencies.append(seconds(clock.now - t0))
    }
    writer.close()
    let total = latencies.reduce(0, +)
    print("journal, one durable record at a time (1 appender): median \(ms(median(latencies))), p99 \(ms(p99(latencies))) over \(samples) records = \(rate(samples, total))")
}

func grdb(dir: String, samples: Int, batched: Int, batchSize: Int, writers: Int, perWriter: Int) throws {
    var config = Configuration()
    config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let pool = try DatabasePool(path: dir + "/bench.sqlite", configuration: config)
    let mode = try pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } ?? "?"
    let sync = try pool.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } ?? -1
    try pool.write { try $0.execute(sql: "CREATE TABLE log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)") }
    let body = String(decoding: try RecordCodec.encodeLine(JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0,
        host: "bench", cause: cause, event: event, prev: JournalRecord.genesisHash)).line, as: UTF8.self)
    print("GRDB \(GRDB.Database.sqliteLibVersion): journal_mode=\(mode), synchronous=\(sync) (2 = FULL), row = the same \(body.utf8.count)-byte JSON record")

    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        try pool.write { try $0.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
        latencies.append(seconds(clock.now - t0))
    }
    print("GRDB WAL, one insert per transaction (1 writer): median \(ms(median(latencies))), p99 \(ms(p99(latencies))) over \(samples) = \(rate(samples, latencies.reduce(0, +)))")

    var start = clock.now
    for _ in 0..<(batched / batchSize) {
        try pool.write { db in
            for _ in 0..<batchSize { try db.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
        }
    }
    var elapsed = seconds(clock.now - start)
    print("GRDB WAL, batches of \(batchSize) inserts per transaction: \(batched) rows in \(String(format: "%.2f", elapsed)) s = \(rate(batched, elapsed))")

    start = clock.now
    DispatchQueue.concurrentPerform(iterations: writers) { _ in
        for _ in 0..<perWriter {
            try! pool.write { try $0.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
        }
    }
    elapsed = seconds(clock.now - start)
    print("GRDB WAL, \(writers) concurrent writers, one insert per transaction: \(writers * perWriter) rows in \(String(format: "%.2f", elapsed)) s = \(rate(writers * perWriter, elapsed))")
}

func sample(dir: String) async throws {
    let writer = try JournalWriter(directory: dir)
    let peer = PCIAddress("0000:03:01.1")!
    try await writer.append(.agentStarted(AgentStarted(version: "0.1.0", pid: getpid())), cause: .agent())
    try await writer.append(.policyLoaded(PolicyLoaded(path: "/etc/vfio-warden/policy.toml", sha256: String(repeating: "3f", count: 32), rules: 4)), cause: .agent())
    try await writer.append(.assignmentMade(Assignment(owner: "vm1", group: group, originalDrivers: [nic.description: "e1000e", peer.description: "e1000e"])),
                            cause: .control("assign 0000:03:01.0 vm1", uid: 0, pid: 4242))
    try await writer.append(.groupStateChanged(GroupStateChange(group: group, from: .host, to: .isolated, reason: "every member on vfio-pci", owner: "vm1")),
                            cause: .control("assign 0000:03:01.0 vm1", uid: 0, pid: 4242))
    try await Task.sleep(for: .milliseconds(20))
    let udev = Cause.udev(seqnum: 5120, action: "bind")
    try await writer.append(.eventSeen(EventSeen(device: nic, devpath: "/devices/pci0000:00/0000:00:1c.0/0000:03:01.0", action: "bind", seqnum: 5120, driver: "e1000e", group: group)), cause: udev)
    try await writer.append(.violationDetected(Violation(group: group, device: nic, driver: "e1000e", owner: "vm1")), cause: udev)
    try await writer.append(.groupStateChanged(GroupStateChange(group: group, from: .isolated, to: .violated, reason: "0000:03:01.0 bound to e1000e", owner: "vm1")), cause: udev)
    let steps = [PlannedStep(device: nic, operation: "unbind", driverBefore: "e1000e"),
                 PlannedStep(device: nic, operation: "driver_override", driverAfter: "vfio-pci"),
                 PlannedStep(device: nic, operation: "drivers_probe", driverAfter: "vfio-pci")]
    try await writer.append(.actionPlanned(ActionPlan(planID: 1, group: group, owner: "vm1", reason: "rebind after violation", steps: steps)), cause: udev)
    for (i, step) in steps.enumerated() {
        try await writer.append(.stepStarted(StepStarted(planID: 1, step: i + 1, device: nic, operation: step.operation, driverBefore: i == 0 ? "e1000e" : nil)), cause: udev)
        try await Task.sleep(for: .milliseconds(1))
        try await writer.append(.stepFinished(StepFinished(planID: 1, step: i + 1, device: nic, operation: step.operation, driverBefore: i == 0 ? "e1000e" : nil,
                                                           driverAfter: i == 2 ? "vfio-pci" : nil, durationNanos: 900_000)), cause: udev)
    }
    try await writer.append(.groupStateChanged(GroupStateChange(group: group, from: .violated, to: .isolated, reason: "every member on vfio-pci", owner: "vm1")), cause: udev)
    try await writer.append(.assignmentReleased(Assignment(owner: "vm1", group: group)), cause: .control("release vm1", uid: 0, pid: 4300))
    try await writer.append(.agentStopped(AgentStopped(reason: "SIGTERM")), cause: .agent())
    writer.close()
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, ["bench", "sample"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: JournalBench bench|sample DIR\n".utf8))
    exit(2)
}
let dir = arguments[2]
if arguments[1] == "sample" {
    try await sample(dir: dir)
    exit(0)
}
let scale = Int(ProcessInfo.processInfo.environment["BENCH_SCALE"] ?? "1") ?? 1
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
try journalSequential(dir: dir + "/sequential", samples: 500 * scale)
try await journalGroupCommit(dir: dir + "/group8", appenders: 8, perAppender: 1000 * scale)
try await journalGroupCommit(dir: dir + "/group64", appenders: 64, perAppender: 250 * scale)
try grdb(dir: dir, samples: 500 * scale, batched: 16_000 * scale, batchSize: 100, writers: 8, perWriter: 125 * scale)
