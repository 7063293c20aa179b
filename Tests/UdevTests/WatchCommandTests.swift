import Foundation
import Testing
import Reports
import SimulatedKernel
import Sysfs
import Topology
@testable import Udev

/// `vfio-warden watch` as a process, fed recorded events on standard input (`--replay -`) while a simulated
/// kernel changes a temporary tree: what a pipe reader sees, event by event, and how the command exits.
@Suite(.enabled(if: WatchExecutable.path != nil, "the vfio-warden executable is built beside the tests"))
struct WatchCommandTests {
    /// A running `watch` with pipes on all three standard streams, started with `posix_spawn(3)`.
    ///
    /// Every descriptor here is `FD_CLOEXEC`, so that children of parallel tests do not hold these pipes open,
    /// and closed exactly once.
    final class Watch {
        let pid: pid_t
        /// -1 once closed: a descriptor closed twice may close another test's reused descriptor.
        var inputFD: Int32
        let outputFD: Int32
        let errorsFD: Int32
        var status: Int32?

        init(_ arguments: [String]) throws {
            func makePipe() -> (read: Int32, write: Int32) {
                var fds: [Int32] = [-1, -1]
                precondition(pipe(&fds) == 0, "pipe failed")
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                return (fds[0], fds[1])
            }
            let input = makePipe(), output = makePipe(), errors = makePipe()
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, input.read, 0)
            posix_spawn_file_actions_adddup2(&actions, output.write, 1)
            posix_spawn_file_actions_adddup2(&actions, errors.write, 2)
            let argv = ([WatchExecutable.path!, "watch"] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid = pid_t()
            let result = posix_spawn(&pid, WatchExecutable.path!, &actions, nil, argv, environ)
            for fd in [input.read, output.write, errors.write] { close(fd) }
            guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
            self.pid = pid
            inputFD = input.write
            outputFD = output.read
            errorsFD = errors.read
        }

        deinit {
            if status == nil { kill(pid, SIGKILL); _ = exitStatus() }
            for fd in [inputFD, outputFD, errorsFD] where fd >= 0 { close(fd) }
        }

        func send(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(inputFD, $0.baseAddress, $0.count) }
        }

        func closeInput() {
            if inputFD >= 0 { close(inputFD) }
            inputFD = -1
        }

        var isRunning: Bool {
            if status != nil { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw; return false }
            return true
        }

        /// Reads standard output until it holds `lines` more lines than before, or 10 seconds pass.
        func readLines(_ lines: Int) -> [String] {
            readUntil(outputFD) { text in text.filter { $0 == "\n" }.count >= lines }
        }

        /// Reads standard error until `done` holds.
        func readErrors(_ done: (String) -> Bool) -> [String] {
            readUntil(errorsFD, done)
        }

        /// Reads from `fd` (`poll(2)` and `read(2)`, never blocking past the deadline) until `done` holds.
        func readUntil(_ fd: Int32, _ done: (String) -> Bool) -> [String] {
            var text = ""
            let deadline = Date().addingTimeInterval(10)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !done(text) && Date() < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                text += String(decoding: buffer[0..<count], as: UTF8.self)
            }
            // Lines, and what there is of the last one if it is not complete yet.
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return lines
        }

        /// Waits up to 10 seconds for the process to end; its exit status, or `nil` if it did not end (then kills it).
        func exitStatus() -> Int32? {
            let deadline = Date().addingTimeInterval(10)
            while isRunning && Date() < deadline { usleep(10_000) }
            if isRunning {
                kill(pid, SIGKILL)
                var raw: Int32 = 0
                waitpid(pid, &raw, 0)
                status = raw
                return nil
            }
            guard let status else { return nil }
            // WIFEXITED / WEXITSTATUS
            return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
        }
    }

    static func line(_ events: [DeviceEvent]) -> String {
        events.map { EventReport.jsonLine(event: $0, change: GraphChange()) }.joined(separator: "\n")
    }

    @Test func eachEventIsPrintedAsItArrivesAndCountEndsTheWatch() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            let watch = try Watch(["--sysfs-root", root.path, "--replay", "-", "--count", "2"])
            let note = watch.readErrors { $0.contains("\n") }
            #expect(note == ["watching 12 devices in 6 groups under \(root.path); replaying standard input"])

            watch.send(Self.line(try kernel.unbind(.literal("0000:03:01.0"))))
            // Printed while the command still runs and waits for more: not held in a buffer.
            #expect(watch.readLines(2) == ["unbind 0000:03:01.0 driver=- seqnum=1001", "  ~ 0000:03:01.0 driver e1000 → -"])
            #expect(watch.isRunning)

            // Changes whose events are lost, then an overflow marker: a resync, which --count does not count.
            try SimulatedKernel(tree: SysfsTree(existingAt: root)).unbind(.literal("0000:03:02.0"))
            watch.send(#"{"overflow":true}"#)
            #expect(watch.readLines(3) == [
                "resync: events were lost (receive buffer overflow); rescanned the whole graph",
                "  ~ 0000:03:02.0 driver virtio-pci → -", "  group 4: not viable → viable",
            ])
            #expect(watch.isRunning)

            watch.send(Self.line(try kernel.bind(.literal("0000:03:01.0"), driver: "vfio-pci")))
            #expect(watch.readLines(2) == ["bind 0000:03:01.0 driver=vfio-pci seqnum=1002", "  ~ 0000:03:01.0 driver - → vfio-pci"])
            #expect(watch.exitStatus() == 0)
        }
    }

    @Test func jsonOutputReplaysAsTheSameEvents() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            let watch = try Watch(["--sysfs-root", root.path, "--replay", "-", "--json"])
            _ = watch.readErrors { $0.contains("\n") }
            let sent = try kernel.setNumVFs(.literal("0000:02:00.0"), to: 1)
            watch.send(Self.line(sent))
            watch.send(#"{"overflow":true}"#)
            watch.closeInput()
            let lines = watch.readLines(3)
            #expect(watch.exitStatus() == 0)
            try #require(lines.count == 3)
            #expect(try lines.map { try EventReplay.decode(line: $0, number: 1) } == sent.map(MonitorEvent.device) + [.overflow])
            #expect(lines[0].hasPrefix(#"{"action":"add","address":"0000:02:00.1","changes":{"devices":[{"address":"0000:02:00.0","#))
            #expect(lines[0].contains(#""groups":[{"after":{"members":["0000:02:00.1"],"viable":false},"before":null,"group":6}]"#))
            #expect(lines[0].contains(#""driver":null,"seqnum":1001}"#))
            #expect(lines[1] == #"{"action":"bind","address":"0000:02:00.1","changes":{"devices":[],"groups":[]},"devpath":"/devices/pci0000:00/0000:00:1c.1/0000:02:00.1","driver":"nvme","seqnum":1002}"#)
            #expect(lines[2] == #"{"changes":{"devices":[],"groups":[]},"overflow":true}"#)
        }
    }

    @Test func timeoutEndsAQuietWatchWithSuccess() async throws {
        try await withScratchSysfs { root in
            try ExampleHosts.build(ExampleHosts.q35, at: root)
            let started = Date()
            let watch = try Watch(["--sysfs-root", root.path, "--replay", "-", "--timeout", "0.3"])
            #expect(watch.exitStatus() == 0)
            #expect(Date().timeIntervalSince(started) >= 0.3)
            #expect(watch.readLines(1).isEmpty)
            watch.closeInput()
        }
    }

    @Test(arguments: [
        (["--count", "0"], "--count must be at least 1"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds"),
        (["--replay", "-", "--source", "kernel"], "--source and --replay cannot be combined"),
        (["--source", "netlink"], "netlink"),
    ])
    func badOptionsAreRefusedBeforeAnythingStarts(arguments: [String], message: String) throws {
        let watch = try Watch(arguments)
        // The process ends: read its standard error to end of file.
        let errors = watch.readErrors { _ in false }.joined(separator: "\n")
        #expect(errors.contains(message))
        #expect(watch.exitStatus() == 64)
    }

    @Test func aBadReplayLineFailsNamingTheLine() async throws {
        try await withScratchSysfs { root in
            try ExampleHosts.build(ExampleHosts.q35, at: root)
            let watch = try Watch(["--sysfs-root", root.path, "--replay", "-"])
            watch.send(#"{"action":"bind","address":"0000:03:01.0","driver":"vfio-pci"}"#)
            watch.send(#"{"action":"explode","address":"0000:03:01.0"}"#)
            watch.closeInput()
            // The process ends: read its standard error to end of file.
            let errors = watch.readErrors { _ in false }.joined(separator: "\n")
            #expect(errors.contains("replay line 2: "))
            #expect(watch.readLines(2).first == "bind 0000:03:01.0 driver=vfio-pci seqnum=-")
            #expect(watch.exitStatus() == 1)
        }
    }
}

enum WatchExecutable {
    /// The `vfio-warden` executable in the same build folder as this test bundle.
    static let path: String? = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        if folder.lastPathComponent == "MacOS" { folder = folder.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        let candidate = folder.appendingPathComponent("vfio-warden").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()
}
