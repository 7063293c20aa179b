import Testing
import Foundation
import Synchronization
import Journal
import SimulatedKernel
import Sysfs
import Topology
import Enforcement
@testable import Agent
@testable import Control

/// The control socket end to end: a real `AF_UNIX` socket in /tmp, an engine on the simulated kernel.
@Suite(.serialized) struct ServerTests {
    struct Running {
        let host: TestHost
        let engine: Engine
        let journal: JournalWriter
        let server: ControlServer
    }

    func withServer<T>(authorize: (@Sendable (ControlRequest.Operation, PeerCredentials) -> ControlAccess.Decision)? = nil,
                       _ body: (Running) async throws -> T) async throws -> T {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        let service = authorize.map { ControlService(engine: engine, journal: journal, agent: { TestHost.agentInfo }, authorize: $0) }
            ?? ControlService(engine: engine, journal: journal, access: ControlAccess(), agent: TestHost.agentInfo)
        let server = try ControlServer(path: host.socketPath) { line, peer in await service.handle(line: line, peer: peer).encodedLine() }
        server.start()
        defer { server.stop() }
        return try await body(Running(host: host, engine: engine, journal: journal, server: server))
    }

    @Test func assignStatusListAndPlanRoundTrip() async throws {
        try await withServer { running in
            let path = running.host.socketPath
            let plan = try await exchange(#"{"op":"plan","action":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#, at: path)
            #expect(plan["ok"] as? Bool == true)
            #expect(plan["exit_code"] as? Int == 0)
            #expect((plan["output"] as? String)?.contains("assign 0000:03:01.0") == true)
            #expect(running.host.kernel.takeWrites().isEmpty, "plan writes nothing")

            let assign = try await exchange(#"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1","id":"a1"}"#, at: path)
            #expect(assign["ok"] as? Bool == true, "\(assign)")
            #expect(assign["id"] as? String == "a1")
            #expect(assign["exit_code"] as? Int == 0)
            let plans = try #require(assign["plans"] as? [[String: Any]])
            #expect(plans.first?["outcome"] as? String == "completed")
            #expect((assign["output"] as? String)?.contains("assign 0000:03:01.0 to vm1") == true)
            #expect(try TopologyGraph.scan(root: running.host.root).devices[TestHost.e1000]?.driver == "vfio-pci")
            #expect(!running.host.kernel.takeWrites().isEmpty)

            // Idempotent: the same group to the same owner again succeeds and writes nothing.
            let again = try await exchange(#"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#, at: path)
            #expect(again["ok"] as? Bool == true)
            #expect(again["exit_code"] as? Int == 0)
            #expect(running.host.kernel.takeWrites().isEmpty, "a repeated assign writes nothing")
            // Another owner is refused, with the reason.
            let other = try await exchange(#"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm2"}"#, at: path)
            #expect(other["exit_code"] as? Int == 1)
            #expect((other["output"] as? String)?.contains("already assigned to vm1") == true)

            let status = try await exchange(#"{"op":"status","format":"json"}"#, at: path)
            let body = try #require(status["status"] as? [String: Any])
            let groups = try #require(body["groups"] as? [[String: Any]])
            #expect(groups.contains { $0["owner"] as? String == "vm1" && $0["state"] as? String == "isolated" })
            let held = try #require(body["assignments"] as? [[String: Any]])
            #expect(held.first?["owner"] as? String == "vm1")
            #expect((body["agent"] as? [String: Any])?["version"] as? String == "test")
            #expect((status["output"] as? String)?.hasPrefix("{") == true)

            let list = try await exchange(#"{"op":"list"}"#, at: path)
            let graph = try #require(list["list"] as? [String: Any])
            #expect((graph["groups"] as? [Any])?.isEmpty == false)

            let release = try await exchange(#"{"op":"release","owner":"vm1"}"#, at: path)
            #expect(release["exit_code"] as? Int == 0, "\(release)")
            #expect(try TopologyGraph.scan(root: running.host.root).devices[TestHost.e1000]?.driver == "e1000")

            let records = try JournalReader(directory: running.host.journalDirectory).records()
            let made = try #require(records.first { $0.kind == .assignmentMade })
            #expect(made.cause?.source == .control)
            #expect(made.cause?.uid == getuid())
            #expect(made.cause?.request == "assign 0000:03:01.0 --owner vm1")
        }
    }

    @Test func theJSONFormatMatchesWhatTheDirectCommandPrints() async throws {
        try await withServer { running in
            let path = running.host.socketPath
            let reply = try await onThread {
                try ControlClient.exchange(ControlRequest(op: .plan, devices: [TestHost.e1000], owner: "vm1", action: .assign, format: .json),
                                           on: try ControlClient.connectIfAnswering(path)!, path: path)
            }
            let direct = try PlanOutput.render(await running.engine.planAssign([TestHost.e1000], owner: "vm1"), json: true)
            #expect(reply.output == direct)
        }
    }

    @Test func malformedRequestsGetErrorsAndTheServerKeepsServing() async throws {
        try await withServer { running in
            let path = running.host.socketPath
            for (line, code) in [("garbage", "bad_json"), (#"{"op":"dance"}"#, "unknown_op"),
                                 (#"{"op":"assign","devices":["zz"],"owner":"x"}"#, "bad_address")] {
                let reply = try await exchange(line, at: path)
                #expect(reply["ok"] as? Bool == false)
                #expect((reply["error"] as? [String: Any])?["code"] as? String == code)
            }
            // Several requests on one connection, a bad one and an over-long one among them: each gets its reply.
            let replies = try await onThread { try Self.pipelined(path) }
            #expect(replies.map(\.ok) == [true, false, false, true])
            #expect(replies.map { $0.error?.code } == [nil, .badJSON, .lineTooLong, nil])
            #expect(replies.map(\.op) == ["status", nil, nil, "list"])
            // A client that connects and goes away mid-line harms nothing.
            try await onThread {
                let gone = try ControlClient.connectIfAnswering(path)!
                try UnixSocket.sendAll(gone, Array(#"{"op":"sta"#.utf8), path: path)
                close(gone)
            }
            #expect(try await exchange(#"{"op":"status"}"#, at: path)["ok"] as? Bool == true)
        }
    }

    /// Several requests on one connection, a bad one and an over-long one among them: each gets its reply.
    static func pipelined(_ path: String) throws -> [ControlReplySummary] {
            let fd = try ControlClient.connectIfAnswering(path)!
            defer { close(fd) }
            let long = [UInt8](repeating: UInt8(ascii: "x"), count: ControlRequest.maximumLineBytes + 10)
            try UnixSocket.sendAll(fd, Array("{\"op\":\"status\"}\nnope\n".utf8) + long + [10] + Array("{\"op\":\"list\"}\n".utf8), path: path)
            var replies: [ControlReplySummary] = []
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while replies.count < 4 {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                pending += chunk[..<count]
                while let newline = pending.firstIndex(of: 10) {
                    replies.append(try ControlReplySummary.decode(pending[..<newline]))
                    pending.removeSubrange(...newline)
                }
            }
            return replies
    }

    @Test func fiftyConcurrentClientsAreAllAnswered() async throws {
        try await withServer { running in
            let path = running.host.socketPath
            let answered = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        let line = index % 3 == 0 ? #"{"op":"list"}"# : index % 3 == 1 ? #"{"op":"status"}"#
                                : #"{"op":"plan","action":"assign","devices":["0000:03:01.0"],"owner":"vm\#(index)"}"#
                        return (try? await exchange(line, at: path))?["ok"] as? Bool == true
                    }
                }
                var count = 0
                for await ok in group where ok { count += 1 }
                return count
            }
            #expect(answered == 60)
        }
    }

    @Test func concurrentAssignsOfOneGroupToManyOwnersLeaveOneOwner() async throws {
        try await withServer { running in
            let path = running.host.socketPath
            let outcomes = await withTaskGroup(of: Int?.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        let line = #"{"op":"assign","devices":["0000:03:0\#(index % 2 + 1).0"],"owner":"vm\#(index)"}"#
                        return (try? await exchange(line, at: path))?["exit_code"] as? Int
                    }
                }
                var codes: [Int?] = []
                for await code in group { codes.append(code) }
                return codes
            }
            #expect(outcomes.filter { $0 == 0 }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == 1 }.count == 9)
            #expect(await running.engine.assignments.assignments.count == 1)
        }
    }

    @Test func stopWaitsForTheRequestInFlight() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let finished = Mutex(false)
        let server = try ControlServer(path: host.socketPath) { _, _ in
            try? await Task.sleep(for: .milliseconds(300))
            finished.withLock { $0 = true }
            return Array("{}\n".utf8)
        }
        server.start()
        let path = host.socketPath
        let client = Task { _ = try? await exchange(#"{"op":"status"}"#, at: path) }
        try await Task.sleep(for: .milliseconds(100))
        server.stop()
        #expect(await server.waitForRequests(timeout: .seconds(5)))
        #expect(finished.withLock { $0 })
        _ = await client.value
    }

    @Test func aRefusedCallerIsToldWhyAndTheRefusalJournaled() async throws {
        // The test runs as root, so the refusal comes from an injected rule: the caller counts as uid 1000.
        let access = ControlAccess(readGroup: 990, readGroupName: "readers")
        try await withServer(authorize: { operation, peer in
            access.decide(operation, for: PeerCredentials(pid: peer.pid, uid: 1000, gid: 1000))
        }) { running in
            let reply = try await exchange(#"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#, at: running.host.socketPath)
            #expect(reply["ok"] as? Bool == false)
            let error = try #require(reply["error"] as? [String: Any])
            #expect(error["code"] as? String == "refused")
            #expect((error["message"] as? String)?.contains("only root") == true)
            #expect(running.host.kernel.takeWrites().isEmpty)
            let records = try JournalReader(directory: running.host.journalDirectory).records()
            let refused = try #require(records.last { $0.kind == .recordRefused })
            #expect(refused.cause?.source == .control)
            #expect(refused.cause?.pid == getpid())
            #expect(refused.cause?.request == "assign 0000:03:01.0 --owner vm1")
        }
    }

    @Test func theSocketIsOpenToAllAndTheAgentDecides() async throws {
        try await withServer { running in
            var info = stat()
            #expect(stat(running.host.socketPath, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o666)
        }
    }

    @Test func aStrangerIsRefusedAtAcceptAndOneRefusalAMinuteJournaled() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let journal = try JournalWriter(directory: host.journalDirectory)
        defer { journal.close() }
        let engine = try host.makeEngine(journal: journal)
        _ = await engine.start(version: "test")
        let clock = Mutex(ContinuousClock.now)
        let access = ControlAccess(readGroup: 990, readGroupName: "readers")
        let service = ControlService(engine: engine, journal: journal, agent: { TestHost.agentInfo },
                                     authorize: { access.decide($0, for: $1) }, admit: { access.decideConnection(for: $0) },
                                     refusals: SharedRefusalLimiter(now: { clock.withLock { $0 } }))
        let handled = Mutex(0)
        // The test runs as root: the server reads the caller as uid 1000, in no group of the agent's.
        let server = try ControlServer(path: host.socketPath, credentials: { _ in PeerCredentials(pid: 4242, uid: 1000, gid: 1000) },
                                       screen: { await service.screen($0)?.encodedLine() }) { line, peer in
            handled.withLock { $0 += 1 }
            return await service.handle(line: line, peer: peer).encodedLine()
        }
        server.start()
        defer { server.stop() }
        let path = host.socketPath
        for _ in 0..<3 {
            let reply = try await exchange(#"{"op":"status"}"#, at: path)
            #expect(reply["ok"] as? Bool == false)
            let error = try #require(reply["error"] as? [String: Any])
            #expect(error["code"] as? String == "refused")
            #expect((error["message"] as? String)?.hasPrefix("uid 1000 (pid 4242) is not root nor in group readers") == true)
            #expect(reply["status"] == nil)
        }
        // The connection is closed after the one reply, and no request was handed to the handler.
        let fd = try ControlClient.connect(path)
        defer { close(fd) }
        var byte: UInt8 = 0
        var received: [UInt8] = []
        while recv(fd, &byte, 1, 0) == 1 { received.append(byte) }
        #expect(received.last == UInt8(ascii: "\n") && received.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        #expect(handled.withLock { $0 } == 0)

        func strangerRefusals() throws -> [JournalRecord] {
            try JournalReader(directory: host.journalDirectory).records().filter { $0.kind == .recordRefused && $0.cause?.uid == 1000 }
        }
        let first = try strangerRefusals()
        #expect(first.count == 1)
        #expect(first.first?.cause?.source == .control && first.first?.cause?.pid == 4242 && first.first?.cause?.request == "connect")
        // A minute later the next refusal is journaled, with the count of the three in between.
        clock.withLock { $0 += .seconds(61) }
        _ = try await exchange(#"{"op":"list"}"#, at: path)
        let records = try strangerRefusals()
        #expect(records.count == 2)
        guard case .recordRefused(let later)? = records.last?.event else { Issue.record("no second record_refused"); return }
        #expect(later.reason.contains("and 3 more of uid 1000 in the 61 s since its last one journaled"))
        #expect(host.kernel.takeWrites().isEmpty)
    }

    @Test func aNonRootUIDHoldsAtMostItsShareOfConnectionsAndRootIsNotLimited() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let callerUID = Mutex<UInt32>(1000)
        let server = try ControlServer(path: host.socketPath, maximumConnectionsPerUser: 2,
                                       credentials: { _ in PeerCredentials(pid: 1, uid: callerUID.withLock { $0 }, gid: 1000) }) { _, peer in
            Array("{\"ok\":true,\"uid\":\(peer.uid)}\n".utf8)
        }
        server.start()
        defer { server.stop() }
        let path = host.socketPath
        let held = [try ControlClient.connect(path), try ControlClient.connect(path)]
        await waitUntil { server.connectionCount == 2 }
        #expect(server.connectionCount == 2)
        let third = try await exchange(#"{"op":"status"}"#, at: path)
        let error = try #require(third["error"] as? [String: Any])
        #expect(error["code"] as? String == "failed")
        #expect((error["message"] as? String)?.contains("uid 1000 has 2 connections open already") == true)
        // Root is not counted against any share.
        callerUID.withLock { $0 = 0 }
        let rootHeld = [try ControlClient.connect(path), try ControlClient.connect(path)]
        #expect(try await exchange(#"{"op":"status"}"#, at: path)["uid"] as? Int == 0)
        await waitUntil { server.connectionCount == 4 }
        #expect(server.connectionCount == 4)
        // A connection of uid 1000 closed frees its slot.
        close(held[0])
        await waitUntil { server.connectionCount == 3 }
        #expect(server.connectionCount == 3)
        callerUID.withLock { $0 = 1000 }
        #expect(try await exchange(#"{"op":"status"}"#, at: path)["uid"] as? Int == 1000)
        close(held[1])
        rootHeld.forEach { close($0) }
    }

    @Test func theClientReadsARefusalSentBeforeItsRequest() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let refusal = ControlReply.failure(ControlProtocolError(.refused, "uid 1000 (pid 1) is not root")).encodedLine()
        let server = try ControlServer(path: host.socketPath, screen: { _ in refusal }) { _, _ in Array("{\"ok\":true}\n".utf8) }
        server.start()
        defer { server.stop() }
        let path = host.socketPath
        let reply = try await onThread {
            let fd = try #require(try ControlClient.connectIfAnswering(path))
            // Let the server answer and close before the request goes out: sending then fails (EPIPE).
            usleep(200_000)
            return try ControlClient.exchange(ControlRequest(op: .status), on: fd, path: path)
        }
        #expect(reply.ok == false)
        #expect(reply.error?.code == .refused)
        #expect(reply.error?.message == "uid 1000 (pid 1) is not root")
    }

    @Test func peerCredentialsAreReadFromTheSocket() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let server = try ControlServer(path: host.socketPath) { _, peer in
            Array("{\"uid\":\(peer.uid),\"pid\":\(peer.pid)}\n".utf8)
        }
        server.start()
        defer { server.stop() }
        let reply = try await exchange("hello", at: host.socketPath)
        #expect(reply["uid"] as? Int == Int(getuid()))
        #expect(reply["pid"] as? Int == Int(getpid()))
    }

    @Test func stopEndsTheServerAndRemovesTheSocket() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let server = try ControlServer(path: host.socketPath) { _, _ in Array("{}\n".utf8) }
        server.start()
        let idle = try #require(try ControlClient.connectIfAnswering(host.socketPath))
        defer { close(idle) }
        // An idle connection's thread is blocked in recv(2): stop() must still end it.
        try await Task.sleep(for: .milliseconds(50))
        server.stop()
        #expect(access(host.socketPath, F_OK) != 0)
        #expect(try ControlClient.connectIfAnswering(host.socketPath) == nil)
        #expect(await server.waitForRequests(timeout: .seconds(1)))
    }
}
