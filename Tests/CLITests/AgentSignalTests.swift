import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `vfio-warden agent` as systemd runs it (`Type=notify`), on the q35 example tree with a monitor-only policy:
/// nothing is assigned, so it writes nothing even there; its journal, state and run directories are temporary.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"), .serialized)
struct AgentSignalTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func sighupReloadsAndAStopSignalStopsGracefully(_ stopSignal: Int32) throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["example-tree", "\(directory)/sys"]).status == 0)
            let policy = "\(directory)/policy.toml"
            try "[manage]\ndevices = []\n".write(toFile: policy, atomically: true, encoding: .utf8)
            let notify = try DatagramListener(path: "\(directory)/notify")
            let agent = Process()
            agent.executableURL = URL(fileURLWithPath: CLI.path!)
            agent.arguments = ["agent", "--sysfs-root", "\(directory)/sys", "--policy", policy, "--journal", "\(directory)/journal",
                               "--state-dir", "\(directory)/state", "--run-dir", "\(directory)/run", "--no-journald",
                               "--resync-interval", "0"]
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notify.path
            agent.environment = environment
            agent.standardOutput = FileHandle.nullDevice
            agent.standardError = FileHandle.nullDevice
            try agent.run()
            defer { if agent.isRunning { kill(agent.processIdentifier, SIGKILL) } }

            let ready = try #require(notify.receive())
            #expect(ready == "READY=1\nSTATUS=monitoring: 0 assigned groups, 0 violated")
            // An invalid policy is rejected, the old one stays; systemd sees RELOADING=1 then READY=1.
            try "[manage]\ndevices = [\"03:1\"]\n".write(toFile: policy, atomically: true, encoding: .utf8)
            kill(agent.processIdentifier, SIGHUP)
            #expect(notify.receive() == "RELOADING=1")
            // STATUS= says the reload was rejected until one succeeds (`systemctl reload` itself cannot fail).
            let reloaded = notify.receive() ?? ""
            #expect(reloaded.hasPrefix("READY=1\nSTATUS=monitoring: 0 assigned groups, 0 violated; reload rejected: \(policy):2:12"), "\(reloaded)")

            // `status --k8s-labels` asks it over the control socket for the node's labels.
            let labels = try CLI.run(["status", "--control-socket", "\(directory)/run/control.sock", "--k8s-labels"])
            #expect(labels.status == 0, "\(labels.errors)")
            let patch = try #require(try JSONSerialization.jsonObject(with: Data(labels.output.utf8)) as? [String: [String: [String: String]]])
            #expect(patch["metadata"]?["labels"]?["vfio-warden.io/mode"] == "monitoring")
            #expect(patch["metadata"]?["labels"]?["vfio-warden.io/groups-blocked"] == "6")
            #expect(patch["metadata"]?["annotations"]?["vfio-warden.io/groups"]?.contains("\"state\":\"blocked\"") == true)

            kill(agent.processIdentifier, stopSignal)
            #expect(notify.receive()?.hasPrefix("STOPPING=1\nSTATUS=stopping") == true)
            agent.waitUntilExit()
            #expect(agent.terminationReason == .exit && agent.terminationStatus == 0)

            let name = stopSignal == SIGTERM ? "SIGTERM" : "SIGINT"
            let stopped = try CLI.run(["journal", "--journal", "\(directory)/journal", "--kind", "agent_stopped"])
            #expect(stopped.output.contains("agent stopped: received \(name)"), "\(stopped.output)")
            let rejected = try CLI.run(["journal", "--journal", "\(directory)/journal", "--kind", "policy_rejected"])
            #expect(rejected.output.contains("policy \(policy):2:12 rejected"), "\(rejected.output)")
            #expect(try CLI.run(["journal", "verify", "--journal", "\(directory)/journal"]).status == 0)
        }
    }
}

extension AgentSignalTests {
    @Test(arguments: [(["--resync-interval=-1"], "--resync-interval must be 0 or more seconds"),
                      (["--count", "0"], "--count must be at least 1"),
                      (["--flapping-threshold", "0"], "--flapping-threshold must be 1 or more repairs"),
                      (["--flapping-window", "0"], "--flapping-window must be more than 0 seconds")])
    func badAgentOptionsAreRefusedBeforeAnythingStarts(_ options: [String], _ message: String) throws {
        try CLI.withDirectory { directory in
            let result = try CLI.run(["agent", "--sysfs-root", "\(directory)/sys", "--run-dir", "\(directory)/run"] + options)
            #expect(result.status == 64)
            #expect(result.errors.contains(message), "\(result.errors)")
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/run"))
        }
    }
}

/// A bound `AF_UNIX` datagram socket standing in for systemd's `NOTIFY_SOCKET`.
final class DatagramListener {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        // A debug build on a loaded machine may take a while to scan, recover and start.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, `nil` after the timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit {
        close(fd)
        unlink(path)
    }
}
