import Testing
import Foundation
import Journal
import Policy
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// A datagram socket the test binds, standing in for systemd's notification socket.
final class NotifyListener: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let bound = try UnixSocket.withAddress(path) { bind(fd, $0, $1) }
        #expect(bound == 0)
        UnixSocket.setTimeout(fd, seconds: 5)
    }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}

@Suite struct NotifyTests {
    @Test(arguments: ["/tmp/vw-notify-\(UInt32.random(in: 0...UInt32.max))", "@vw-notify-\(UInt32.random(in: 0...UInt32.max))"])
    func messagesArriveAsSystemdReadsThem(_ path: String) throws {
        let listener = try NotifyListener(path: path)
        let notifier = SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"], pid: 42)
        #expect(notifier.watchdogInterval == .seconds(1))
        try notifier.ready(status: "enforcing: 2 assigned groups, 0 violated")
        #expect(listener.receive() == "READY=1\nSTATUS=enforcing: 2 assigned groups, 0 violated")
        try notifier.status("line one\nline two")
        #expect(listener.receive() == "STATUS=line one line two")
        try notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
        try notifier.stopping()
        #expect(listener.receive() == "STOPPING=1")
    }

    @Test func withoutNotifySocketNothingIsSent() throws {
        let notifier = SystemdNotifier.fromEnvironment([:])
        #expect(notifier.socketPath == nil)
        #expect(notifier.watchdogInterval == nil)
        try notifier.ready()
    }

    @Test func aWatchdogMeantForAnotherProcessIsIgnored() {
        let notifier = SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"], pid: 42)
        #expect(notifier.watchdogInterval == nil)
        let ours = SystemdNotifier.fromEnvironment(["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "42"], pid: 42)
        #expect(ours.watchdogInterval == .microseconds(500))
    }

    @Test func aMissingSocketIsAnErrorNamingIt() {
        let notifier = SystemdNotifier(socketPath: "/tmp/vw-no-such-notify-socket")
        #expect(throws: ControlSocketError.self) { try notifier.ready() }
    }
}

@Suite struct RunLockTests {
    @Test func aSecondAgentIsRefusedAndTheHolderNamed() throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let run = host.directory + "/run"
        let first = try RunLock(runDirectory: run, pid: 4242)
        #expect(RunLock.holder(runDirectory: run) == 4242)
        #expect {
            _ = try RunLock(runDirectory: run, pid: 5353)
        } throws: { error in
            "\(error)".contains("pid 4242") && "\(error)".contains("another agent is running")
        }
        first.release()
        let second = try RunLock(runDirectory: run, pid: 5353)
        #expect(RunLock.holder(runDirectory: run) == 5353)
        second.release()
        second.release()
        #expect(RunLock.holder(runDirectory: run) == nil)
    }
}

@Suite struct ReloadTests {
    @Test func aValidPolicyReplacesTheOldAndAnInvalidOneIsRejected() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        // Start with nothing managed: assign is refused.
        let engine = try host.makeEngine(journal: journal, verdicts: { _ in VerdictTable([:]) })
        _ = await engine.start(version: "test")
        #expect(await engine.planAssign([TestHost.e1000], owner: "vm1").contains(where: \.isRefused))

        let file = host.directory + "/policy.toml"
        try "[manage]\ndevices = [\"0000:03:01.0\", \"0000:03:02.0\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = await PolicyReload.reload(engine: engine, journal: journal, path: file, sysfs: host.root, proc: SysfsRoot(host.directory + "/proc"))
        #expect(loaded.binding != nil, "\(loaded.message)")
        #expect(await engine.context().verdicts[TestHost.e1000].managedBy != nil)

        try "[manage]\ndevices = [\"0000:03:01.0\", \"03:1\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let rejected = await PolicyReload.reload(engine: engine, journal: journal, path: file, sysfs: host.root, proc: SysfsRoot(host.directory + "/proc"))
        #expect(rejected.binding == nil)
        #expect(rejected.message.contains("rejected"))
        // One line for systemd's STATUS=: the file, the first error's position, the old policy in force.
        #expect(rejected.rejection == "reload rejected: \(file):2:28: 1 error, the previous policy stays in force")
        #expect(loaded.rejection == nil)
        // The old policy stays in force.
        #expect(await engine.context().verdicts[TestHost.e1000].managedBy != nil)

        let records = try JournalReader(directory: host.journalDirectory).records()
        guard case .policyLoaded(let policy)? = records.first(where: { $0.kind == .policyLoaded })?.event else {
            Issue.record("no policy_loaded"); return
        }
        #expect(policy.path == file)
        #expect(policy.sha256.count == 64)
        #expect(policy.rules == 2)
        guard case .policyRejected(let rejection)? = records.first(where: { $0.kind == .policyRejected })?.event else {
            Issue.record("no policy_rejected"); return
        }
        #expect(rejection.line == 2)
        #expect(rejection.column == 28)
        #expect(rejection.error.contains("03:1"))
        #expect(records.firstIndex { $0.kind == .policyLoaded }! < records.firstIndex { $0.kind == .policyRejected }!)
    }

    /// StrictModes on SIGHUP: a valid policy that anyone but root could change is rejected, naming file and mode;
    /// the old one stays in force. (Tests run as root, as the agent does.)
    @Test func aReloadRefusesAPolicyAnyoneCanWrite() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        let engine = try host.makeEngine(journal: journal, verdicts: { _ in VerdictTable([:]) })
        _ = await engine.start(version: "test")
        let file = host.directory + "/policy.toml"
        try "[manage]\ndevices = [\"0000:03:01.0\", \"0000:03:02.0\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o666)
        let rejected = await PolicyReload.reload(engine: engine, journal: journal, path: file, sysfs: host.root, proc: SysfsRoot(host.directory + "/proc"))
        #expect(rejected.binding == nil)
        #expect(rejected.message.contains("\(file) (mode 0666, owner uid 0) is writable by others"), "\(rejected.message)")
        #expect(await engine.context().verdicts[TestHost.e1000].managedBy == nil)
        chmod(file, 0o644)
        let loaded = await PolicyReload.reload(engine: engine, journal: journal, path: file, sysfs: host.root, proc: SysfsRoot(host.directory + "/proc"))
        #expect(loaded.binding != nil, "\(loaded.message)")
        let records = try JournalReader(directory: host.journalDirectory).records()
        #expect(records.contains { $0.kind == .policyRejected })
    }

    @Test func reloadAppliesNewAssignRules() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        let engine = try host.makeEngine(journal: journal, verdicts: { _ in VerdictTable([:]) })
        _ = await engine.start(version: "test")
        let report = await engine.reload(verdicts: TestHost.managedNICs, sriovRules: [],
                                         staticAssignments: [.init(devices: [TestHost.e1000], owner: "vm-static", rule: "assign[0]")],
                                         cause: .agent("SIGHUP"))
        #expect(report.actions.contains { $0.plan.kind == .assign && $0.result.outcome == .completed })
        #expect(await engine.assignments.assignments.map(\.owner) == ["vm-static"])
        #expect(try TopologyGraph.scan(root: host.root).devices[TestHost.e1000]?.driver == "vfio-pci")
    }
}
