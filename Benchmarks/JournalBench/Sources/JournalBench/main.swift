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

/// Records/s with `appenders` tasks appending concurrently, and the mean records per write+fsync commit.
func journalGroupCommit(dir: String, appenders: Int, perAppender: Int) async throws -> (rate: Double, perCommit: Double) {
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
    return (Double(n) / elapsed, Double(n) / Double(commits))
}

/// Latencies (s) of one durable record at a time.
func journalSequential(dir: String, samples: Int) throws -> [Double] {
    let writer = try JournalWriter(directory: dir, options: options())
    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        try writer.appendAndWait(event, cause: cause)
        latencies.append(seconds(clock.now - t0))
    }
    writer.close()
    return latencies
}

let body = String(decoding: try RecordCodec.encodeLine(JournalRecord(seq: 1, realtimeMicros: 0, monotonicNanos: 0,
    host: "bench", cause: cause, event: event, prev: JournalRecord.genesisHash)).line, as: UTF8.self)

func openPool(_ path: String) throws -> DatabasePool {
    var config = Configuration()
    config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let pool = try DatabasePool(path: path, configuration: config)
    // DatabasePool puts its writer connection on synchronous=NORMAL when it turns WAL on, after prepareDatabase:
    // set FULL again on the writer (the connection that commits) and read it back from there.
    try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    let sync = try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } ?? -1
    precondition(sync == 2, "the writer connection is not on synchronous=FULL")
    try pool.write { try $0.execute(sql: "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)") }
    return pool
}

func describePool(_ pool: DatabasePool) throws -> String {
    let mode = try pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } ?? "?"
    let sync = try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } ?? -1
    let version = try pool.read { try String.fetchOne($0, sql: "SELECT sqlite_version()") } ?? "?"
    return "GRDB 7.10.0, SQLite \(version): journal_mode=\(mode), synchronous=\(sync) (2 = FULL) on the writer; row = the same \(body.utf8.count)-byte JSON record"
}

/// Latencies (s) of one insert per transaction.
func grdbSequential(_ pool: DatabasePool, samples: Int) throws -> [Double] {
    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        try pool.write { try $0.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
        latencies.append(seconds(clock.now - t0))
    }
    return latencies
}

func grdbBatched(_ pool: DatabasePool, rows: Int, batchSize: Int) throws -> Double {
    let start = clock.now
    for _ in 0..<(rows / batchSize) {
        try pool.write { db in
            for _ in 0..<batchSize { try db.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
        }
    }
    return Double(rows) / seconds(clock.now - start)
}

func grdbConcurrent(_ pool: DatabasePool, writers: Int, perWriter: Int) -> Double {
    let start = clock.now
    // One thread per writer (concurrentPerform would run only as many as there are cores).
    let finished = DispatchGroup()
    for _ in 0..<writers {
        finished.enter()
        Thread {
            for _ in 0..<perWriter {
                try! pool.write { try $0.execute(sql: "INSERT INTO log(body) VALUES (?)", arguments: [body]) }
            }
            finished.leave()
        }.start()
    }
    finished.wait()
    return Double(writers * perWriter) / seconds(clock.now - start)
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
let environment = ProcessInfo.processInfo.environment
let scale = Int(environment["BENCH_SCALE"] ?? "1") ?? 1
let rounds = Int(environment["BENCH_ROUNDS"] ?? "3") ?? 3
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
let samples = 300 * scale
print(try describePool(try openPool(dir + "/probe.sqlite")))
print("\(rounds) rounds; in each, the journal and SQLite take turns so both see the same disk and load")
var results: [String: [Double]] = [:]
@MainActor func note(_ key: String, _ value: Double) { results[key, default: []].append(value) }
func fmtRate(_ r: Double) -> String { String(format: "%.0f/s", r) }
for round in 1...rounds {
    let journalLatency = try journalSequential(dir: dir + "/r\(round)-seq", samples: samples)
    let pool = try openPool(dir + "/r\(round).sqlite")
    let sqliteLatency = try grdbSequential(pool, samples: samples)
    let group8 = try await journalGroupCommit(dir: dir + "/r\(round)-g8", appenders: 8, perAppender: 400 * scale)
    let sqlite8 = grdbConcurrent(pool, writers: 8, perWriter: 60 * scale)
    let group64 = try await journalGroupCommit(dir: dir + "/r\(round)-g64", appenders: 64, perAppender: 100 * scale)
    let batched = try grdbBatched(pool, rows: 10_000 * scale, batchSize: 100)
    note("j.median", median(journalLatency)); note("j.p99", p99(journalLatency)); note("j.rate1", Double(samples) / journalLatency.reduce(0, +))
    note("s.median", median(sqliteLatency)); note("s.p99", p99(sqliteLatency)); note("s.rate1", Double(samples) / sqliteLatency.reduce(0, +))
    note("j.g8", group8.rate); note("j.g8c", group8.perCommit); note("j.g64", group64.rate); note("j.g64c", group64.perCommit)
    note("s.c8", sqlite8); note("s.b100", batched)
    print("round \(round): journal 1 appender median \(ms(median(journalLatency))) | SQLite 1 insert/txn median \(ms(median(sqliteLatency)))"
          + " | journal 8 appenders \(fmtRate(group8.rate)) (\(String(format: "%.1f", group8.perCommit))/commit)"
          + " | SQLite 8 writers \(fmtRate(sqlite8)) | journal 64 appenders \(fmtRate(group64.rate)) (\(String(format: "%.1f", group64.perCommit))/commit)"
          + " | SQLite batches of 100 \(fmtRate(batched))")
}
@MainActor func mid(_ key: String) -> Double { median(results[key]!) }
print("")
print("median over \(rounds) rounds:")
print("  journal, one durable record at a time (1 appender): median latency \(ms(mid("j.median"))), p99 \(ms(mid("j.p99"))), \(fmtRate(mid("j.rate1")))")
print("  journal, group commit, 8 concurrent appenders:  \(fmtRate(mid("j.g8"))) (\(String(format: "%.1f", mid("j.g8c"))) records per write+fsync)")
print("  journal, group commit, 64 concurrent appenders: \(fmtRate(mid("j.g64"))) (\(String(format: "%.1f", mid("j.g64c"))) records per write+fsync)")
print("  SQLite WAL synchronous=FULL, one insert per transaction (1 writer): median latency \(ms(mid("s.median"))), p99 \(ms(mid("s.p99"))), \(fmtRate(mid("s.rate1")))")
print("  SQLite WAL synchronous=FULL, 8 writer threads, one insert per transaction: \(fmtRate(mid("s.c8")))")
print("  SQLite WAL synchronous=FULL, batches of 100 inserts per transaction: \(fmtRate(mid("s.b100")))")
