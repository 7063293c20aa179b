#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
import Sysfs
import Topology
@testable import Udev

@Suite struct EventReplayTests {
    @Test(arguments: [
        (#"{"action":"bind","address":"0000:03:01.0","driver":"vfio-pci","seqnum":12}"#,
         MonitorEvent.device(DeviceEvent(action: .bind, address: .literal("0000:03:01.0"), driver: "vfio-pci", seqnum: 12))),
        // A `watch --json` line: the extra `changes` key is ignored, nulls are absent values.
        (#"{"action":"unbind","address":"0000:03:01.0","changes":{"devices":[],"groups":[]},"devpath":"/devices/pci0000:00/0000:03:01.0","driver":null,"seqnum":null}"#,
         .device(DeviceEvent(action: .unbind, address: .literal("0000:03:01.0"), devpath: "/devices/pci0000:00/0000:03:01.0"))),
        (#"  {"action":"add","address":"02:00.1"}  "#, .device(DeviceEvent(action: .add, address: .literal("0000:02:00.1")))),
        (#"{"changes":{"devices":[],"groups":[]},"overflow":true}"#, .overflow),
        (#"{"overflow":false,"action":"remove","address":"0000:03:02.0"}"#,
         .device(DeviceEvent(action: .remove, address: .literal("0000:03:02.0")))),
    ])
    func decodesEventAndOverflowLines(line: String, expected: MonitorEvent) throws {
        #expect(try EventReplay.decode(line: line, number: 1) == expected)
    }

    @Test(arguments: ["", "   ", "# a comment", "  # indented comment"])
    func skipsBlankAndCommentLines(line: String) throws {
        #expect(try EventReplay.decode(line: line, number: 3) == nil)
    }

    @Test(arguments: [
        ("{not json", "line 4"),
        (#"{"address":"0000:03:01.0"}"#, "no 'action' key"),
        (#"{"action":"explode","address":"0000:03:01.0"}"#, "action"),
        (#"{"action":"bind","address":"0000:03:99.0"}"#, "slot '99'"),
        (#"{"action":"bind","address":"0000:03:01.0","seqnum":"twelve"}"#, "seqnum"),
    ])
    func rejectsBadLinesNamingTheLine(line: String, fragment: String) {
        #expect {
            try EventReplay.decode(line: line, number: 4)
        } throws: { error in
            guard let error = error as? ReplayError else { return false }
            return error.line == 4 && error.description.hasPrefix("replay line 4: ") && error.description.contains(fragment)
        }
    }

    @Test func aFileEndsTheSequenceAndABadLineEndsItWithTheError() async throws {
        try await withScratchSysfs { root in
            let path = root.absolute("events.jsonl")
            let text = """
                {"action":"bind","address":"0000:03:01.0","driver":"vfio-pci","seqnum":1}
                {"overflow":true}
                {"action":"oops"}
                {"action":"bind","address":"0000:03:02.0"}
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            var received: [MonitorEvent] = []
            let error = await #expect(throws: ReplayError.self) {
                for try await event in try EventReplay.events(path: path) { received.append(event) }
            }
            #expect(received == [.device(DeviceEvent(action: .bind, address: .literal("0000:03:01.0"), driver: "vfio-pci", seqnum: 1)), .overflow])
            #expect(error?.line == 3)
        }
    }

    @Test func aMissingFileIsAnOpenErrorWithErrno() {
        #expect {
            _ = try EventReplay.events(path: "/nonexistent/vfio-warden/events.jsonl")
        } throws: { error in
            guard let error = error as? UdevError else { return false }
            return error.operation == "open" && error.what == "/nonexistent/vfio-warden/events.jsonl" && error.errno == .noSuchFileOrDirectory
        }
    }
}
