// The control socket's protocol: one request line to ControlRequest.parse, then the whole path a line takes in
// the agent, ControlService.handle(line:peer:) (parse, check the caller, carry out against an engine on the
// simulated kernel, render), and the reply's encoding.
//
// Oracles: a line that parses re-encodes (encodedLine) to a line that parses to the same request; a line that
// does not parse gets an error with a code and a message; every reply encodes as exactly one JSON line that a
// client decodes, `ok` false exactly when it carries an error, an error reply naming what went wrong.
#if canImport(Glibc)
import Glibc
#endif
import Agent
import Control
import Dispatch
import Enforcement
import Foundation
import SimulatedKernel
import Synchronization
import Sysfs
import Topology

/// The engine the requests run against: the q35 example host on a simulated kernel in a temporary directory
/// (no journal, no assignment store: nothing grows from one input to the next but the simulated tree's state).
let service: ControlService = {
    let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-fuzz-control-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    do {
        let root = SysfsRoot(directory + "/sys")
        try FileManager.default.createDirectory(atPath: root.path, withIntermediateDirectories: true)
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        // The NICs behind the PCIe-to-PCI bridge (group 4) and the e1000e (group 2) are managed; the rest is not.
        let managed: Set<PCIAddress> = [.literal("0000:03:01.0"), .literal("0000:03:02.0"), .literal("0000:01:00.0")]
        let engine = try Engine(Engine.Configuration(
            root: root, writer: kernel,
            verdicts: { graph in
                VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.keys.filter(managed.contains).map {
                    ($0, DeviceVerdict(managedBy: "manage.devices"))
                }))
            },
            stepTimeout: .seconds(2)))
        let agent = AgentStatus.Agent(version: "fuzz", pid: getpid(), startedAt: 0, policy: "fuzz.toml", monitorOnly: false,
                                      sysfsRoot: root.path, journal: nil)
        atexit { try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.path + "/vfio-warden-fuzz-control-\(getpid())") }
        return ControlService(engine: engine, journal: nil, access: ControlAccess(readGroup: 100, readGroupName: "fuzzers"), agent: agent)
    } catch {
        fatalError("cannot set up the simulated host in \(directory): \(error)")
    }
}()

/// Root, a member of the read group, and a stranger: the input's length picks one, so each input always takes the same path.
let peers = [PeerCredentials(pid: 1, uid: 0, gid: 0), PeerCredentials(pid: 2, uid: 1000, gid: 100),
             PeerCredentials(pid: 3, uid: 1001, gid: 1001)]

/// Runs `body` on Swift's cooperative pool and blocks libFuzzer's thread until it returns.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<T?>(nil)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// The reply line must be one JSON object on one line that a client decodes, and say what it says consistently.
func checkReply(_ reply: ControlReply, parsed: Result<ControlRequest, ControlProtocolError>) {
    let line = reply.encodedLine()
    precondition(line.last == 0x0A, "a reply line ends with a newline")
    precondition(!line.dropLast().contains(0x0A), "a reply is one line: \(String(decoding: line, as: UTF8.self))")
    let summary: ControlReplySummary
    do {
        summary = try ControlReplySummary.decode(line.dropLast())
    } catch {
        preconditionFailure("a client cannot decode the reply \(String(decoding: line, as: UTF8.self)): \(error)")
    }
    precondition(summary.ok == (summary.error == nil), "ok is false exactly when there is an error: \(summary)")
    precondition(summary.exitCode != nil, "every reply has an exit code: \(summary)")
    if let error = summary.error { precondition(!error.message.isEmpty, "an error says what went wrong: \(summary)") }
    switch parsed {
    case .failure(let error):
        precondition(!summary.ok && summary.error == error, "a malformed line gets its parse error back: \(summary), expected \(error)")
    case .success(let request):
        precondition(summary.op == request.op.rawValue && summary.id == request.id, "the reply names the request: \(summary)")
    }
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    let parsed: Result<ControlRequest, ControlProtocolError>
    do throws(ControlProtocolError) {
        let request = try ControlRequest.parse(line)
        // What a client sends for this request must read back as the same request.
        let encoded = request.encodedLine()
        precondition(encoded.last == 0x0A && !encoded.dropLast().contains(0x0A), "a request encodes as one line")
        do throws(ControlProtocolError) {
            let again = try ControlRequest.parse(encoded.dropLast())
            precondition(again == request, "request round trip: \(request) became \(again)")
        } catch {
            preconditionFailure("the encoded request \(String(decoding: encoded, as: UTF8.self)) does not parse: \(error)")
        }
        parsed = .success(request)
    } catch {
        precondition(!error.message.isEmpty, "a parse error says what is wrong")
        parsed = .failure(error)
    }
    let peer = peers[size % peers.count]
    let reply = blocking { await service.handle(line: line, peer: peer) }
    checkReply(reply, parsed: parsed)
    return 0
}

// SwiftPM links an executable target's top-level code as its `main`, so libFuzzer's own `main` is not used:
// this hands the command line to libFuzzer's driver with the function above as the target.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

_ = service
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzOne(data, size) }))
