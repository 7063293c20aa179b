import Testing
import Foundation
import Enforcement
import Sysfs
import SimulatedKernel
@testable import Control

@Suite struct ProtocolTests {
    @Test func anAssignRequestParsesWithEveryKey() throws {
        let request = try ControlRequest.parse(Array(#"{"op":"assign","devices":["03:01.0","0000:03:02.0"],"owner":"vm1","quarantine":"pci-stub","id":"7","format":"json"}"#.utf8))
        #expect(request.op == .assign)
        #expect(request.devices == [.literal("0000:03:01.0"), .literal("0000:03:02.0")])
        #expect(request.owner == "vm1")
        #expect(request.quarantine == .pciStub)
        #expect(request.id == "7")
        #expect(request.format == .json)
        #expect(request.summary == "assign 0000:03:01.0 0000:03:02.0 --owner vm1 --quarantine pci-stub")
    }

    @Test(arguments: [
        #"{"op":"release","owner":"vm1"}"#,
        #"{"op":"release","devices":["0000:03:01.0"]}"#,
        #"{"op":"plan","action":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#,
        #"{"op":"plan","action":"release","owner":"vm1"}"#,
        #"{"op":"status"}"#,
        #"{"op":"list","format":"json"}"#,
        #"{"op":"status","id":null}"#,
    ])
    func validRequestsParse(_ line: String) throws {
        _ = try ControlRequest.parse(Array(line.utf8))
    }

    struct BadCase: Sendable, CustomStringConvertible {
        var line: String
        var code: ControlProtocolError.Code
        var mentions: String
        var description: String { line }
    }

    @Test(arguments: [
        BadCase(line: "not json", code: .badJSON, mentions: "not valid JSON"),
        BadCase(line: "{\"op\":\"status\"", code: .badJSON, mentions: "not valid JSON"),
        BadCase(line: "[1,2]", code: .badJSON, mentions: "not an array"),
        BadCase(line: "\"status\"", code: .badJSON, mentions: "JSON object"),
        BadCase(line: "{}", code: .badField, mentions: "missing \"op\""),
        BadCase(line: #"{"op":3}"#, code: .badField, mentions: "\"op\" must be a string"),
        BadCase(line: #"{"op":"reboot"}"#, code: .unknownOperation, mentions: "unknown op \"reboot\""),
        BadCase(line: #"{"op":"status","verbose":true}"#, code: .badField, mentions: "unknown key \"verbose\""),
        BadCase(line: #"{"op":"assign","devices":["03:1"],"owner":"vm1"}"#, code: .badAddress, mentions: "03:1"),
        BadCase(line: #"{"op":"assign","devices":[3],"owner":"vm1"}"#, code: .badAddress, mentions: "not a PCI address"),
        BadCase(line: #"{"op":"assign","devices":"0000:03:01.0","owner":"vm1"}"#, code: .badField, mentions: "must be an array"),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"]}"#, code: .badField, mentions: "needs \"owner\""),
        BadCase(line: #"{"op":"assign","owner":"vm1"}"#, code: .badField, mentions: "needs \"devices\""),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"],"owner":""}"#, code: .badField, mentions: "\"owner\": invalid owner \"\": it is empty"),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"],"owner":"   "}"#, code: .badField, mentions: "it is blank"),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1\n  0000:00:1f.2: set driver_override \u001b[31m"}"#,
                code: .badField, mentions: #"invalid owner "vm1\n  0000:00:1f.2: set driver_override \e[31m": it holds U+000A"#),
        BadCase(line: #"{"op":"release","owner":"vm\u202e1"}"#, code: .badField, mentions: "U+202E (a format character)"),
        BadCase(line: "{\"op\":\"release\",\"owner\":\"\(String(repeating: "x", count: 129))\"}", code: .badField, mentions: "129 bytes long"),
        // Foundation keeps the last of two equal keys; a request names each key once, escaped or not.
        BadCase(line: #"{"op":"status","op":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#, code: .badJSON, mentions: "key \"op\" appears more than once"),
        BadCase(line: #"{"op":"release","owner":"vm1","\u006fwner":"vm2"}"#, code: .badJSON, mentions: "key \"owner\" appears more than once"),
        BadCase(line: #"{"op":"list","id":"a","format":"json","id":"b"}"#, code: .badJSON, mentions: "key \"id\" appears more than once"),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"],"owner":7}"#, code: .badField, mentions: "\"owner\" must be a string"),
        BadCase(line: #"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1","quarantine":"jail"}"#, code: .badField, mentions: "unknown quarantine"),
        BadCase(line: #"{"op":"release"}"#, code: .badField, mentions: "needs \"devices\" or \"owner\""),
        BadCase(line: #"{"op":"plan","owner":"vm1"}"#, code: .badField, mentions: "needs \"action\""),
        BadCase(line: #"{"op":"plan","action":"destroy","owner":"vm1"}"#, code: .badField, mentions: "unknown plan action"),
        BadCase(line: #"{"op":"status","action":"assign"}"#, code: .badField, mentions: "belongs to \"plan\""),
        BadCase(line: #"{"op":"list","format":"xml"}"#, code: .badField, mentions: "unknown format"),
    ])
    func malformedRequestsSayWhatIsWrong(_ bad: BadCase) {
        #expect {
            _ = try ControlRequest.parse(Array(bad.line.utf8))
        } throws: { error in
            guard let error = error as? ControlProtocolError else { return false }
            return error.code == bad.code && error.message.contains(bad.mentions)
        }
    }

    /// Equal keys in different objects, and strings that look like keys, are not duplicates.
    @Test func duplicateKeyDetectionLooksOnlyWithinOneObject() {
        #expect(JSONDuplicateKeys.first(in: Array(#"{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"a","d":["a","a"]}"#.utf8)) == nil)
        #expect(JSONDuplicateKeys.first(in: Array(#"{"a":{"x":1,"y":{},"x":2}}"#.utf8)) == "x")
        #expect(JSONDuplicateKeys.first(in: Array(#"{"k\"":1,"k\u0022":2}"#.utf8)) == "k\"")
        #expect(JSONDuplicateKeys.first(in: Array(#"{"é":1,"\u00e9":2}"#.utf8)) == "é")
    }

    /// The control fuzz target's seeds (Fuzz/Corpus/control) keep the target's parse invariants: a request that
    /// parses survives its own encoding, and a refusal says what is wrong.
    @Test func theFuzzSeedsKeepTheTargetsInvariants() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/control")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: corpus.path)
        #expect(seeds.count >= 20)
        for seed in seeds {
            let line = Array(try Data(contentsOf: corpus.appendingPathComponent(seed)))
            do {
                let request = try ControlRequest.parse(line)
                let encoded = request.encodedLine()
                #expect(try ControlRequest.parse(encoded.dropLast()) == request, "\(seed)")
            } catch let error as ControlProtocolError {
                #expect(!error.message.isEmpty, "\(seed)")
            }
        }
    }

    @Test func anOverLongLineIsRefusedUnread() {
        let line = [UInt8](repeating: UInt8(ascii: " "), count: ControlRequest.maximumLineBytes + 1)
        #expect(throws: ControlProtocolError.self) { _ = try ControlRequest.parse(line) }
        do { _ = try ControlRequest.parse(line) } catch { #expect(error.code == .lineTooLong) }
    }

    @Test func aRequestSurvivesItsOwnEncoding() throws {
        let request = ControlRequest(op: .plan, id: "x", devices: [.literal("0000:03:01.0")], owner: "vm 1",
                                     quarantine: Planner.SiblingMode.none, action: .assign, format: .json)
        let line = request.encodedLine()
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(try ControlRequest.parse(line.dropLast()) == request)
    }

    @Test func errorRepliesCarryCodeMessageAndField() throws {
        let reply = ControlReply.failure(ControlProtocolError(.badAddress, "invalid", field: "devices"), op: "assign", id: "9")
        let line = reply.encodedLine()
        #expect(line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let summary = try ControlReplySummary.decode(line.dropLast())
        #expect(summary.ok == false)
        #expect(summary.error == ControlProtocolError(.badAddress, "invalid", field: "devices"))
        #expect(summary.exitCode == 1)
        #expect(summary.id == "9")
    }

    /// A cheap fuzz: random bytes and mutated valid requests never crash the parser, and every failure has a code.
    @Test func randomInputNeverCrashesTheParser() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [#"{"op":"assign","devices":["0000:03:01.0"],"owner":"vm1"}"#, #"{"op":"status"}"#, #"{"op":"plan","action":"release","owner":"a"}"#]
        for round in 0..<2_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: index)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            do { _ = try ControlRequest.parse(bytes) } catch { #expect(!error.message.isEmpty) }
        }
    }
}

@Suite struct AccessTests {
    let access = ControlAccess(readGroup: 990, readGroupName: "vfio-readers")

    @Test(arguments: ControlRequest.Operation.allCases)
    func rootMayDoEverything(_ operation: ControlRequest.Operation) {
        #expect(access.decide(operation, for: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .allowed)
    }

    @Test(arguments: [ControlRequest.Operation.status, .list, .plan])
    func theReadGroupMayRead(_ operation: ControlRequest.Operation) {
        #expect(access.decide(operation, for: PeerCredentials(pid: 10, uid: 1000, gid: 990)) == .allowed)
        // As a supplementary group too.
        #expect(access.decide(operation, for: PeerCredentials(pid: 10, uid: 1000, gid: 1000, groups: [27, 990])) == .allowed)
    }

    @Test(arguments: [ControlRequest.Operation.assign, .release])
    func theReadGroupMayNotChangeState(_ operation: ControlRequest.Operation) {
        let decision = access.decide(operation, for: PeerCredentials(pid: 10, uid: 1000, gid: 990))
        guard case .refused(let reason) = decision else { Issue.record("allowed"); return }
        #expect(reason.contains("only root"))
        #expect(reason.contains("uid 1000"))
    }

    @Test(arguments: ControlRequest.Operation.allCases)
    func anyoneElseIsRefused(_ operation: ControlRequest.Operation) {
        let decision = access.decide(operation, for: PeerCredentials(pid: 11, uid: 1001, gid: 1001, groups: [27]))
        guard case .refused = decision else { Issue.record("allowed"); return }
        let noGroup = ControlAccess().decide(operation, for: PeerCredentials(pid: 11, uid: 1001, gid: 990))
        guard case .refused = noGroup else { Issue.record("allowed without a read group"); return }
    }

    @Test func aConnectionIsAdmittedForRootAndTheReadGroupOnly() {
        #expect(access.decideConnection(for: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .allowed)
        #expect(access.decideConnection(for: PeerCredentials(pid: 10, uid: 1000, gid: 990)) == .allowed)
        #expect(access.decideConnection(for: PeerCredentials(pid: 10, uid: 1000, gid: 1000, groups: [990])) == .allowed)
        guard case .refused(let reason) = access.decideConnection(for: PeerCredentials(pid: 11, uid: 1001, gid: 1001, groups: [27])) else {
            Issue.record("a stranger was admitted"); return
        }
        #expect(reason == "uid 1001 (pid 11) is not root nor in group vfio-readers")
        guard case .refused(let noGroup) = ControlAccess().decideConnection(for: PeerCredentials(pid: 11, uid: 1001, gid: 990)) else {
            Issue.record("admitted without a read group"); return
        }
        #expect(noGroup.contains("no --read-group is configured"))
    }

    @Test func groupsResolveByNameOrNumber() throws {
        #expect(try ControlAccess.resolveGroup("root") == 0)
        #expect(try ControlAccess.resolveGroup("4242") == 4242)
        #expect(throws: ControlSocketError.self) { _ = try ControlAccess.resolveGroup("no-such-group-vfio-warden") }
    }
}
