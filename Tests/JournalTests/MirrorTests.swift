import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Journal
import Testing

/// A datagram socket bound in a temporary directory, standing in for journald.
final class FakeJournald {
    let path: String
    let fd: Int32

    init(directory: String) throws {
        path = directory + "/journal.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes); $0[bytes.count] = 0 }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw JournalError(operation: "bind", path: path) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// One datagram, parsed into (name, value) pairs per the native protocol.
    func receive() -> [(String, String)]? {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Self.parse(Array(buffer[..<n]))
    }

    static func parse(_ bytes: [UInt8]) -> [(String, String)] {
        var fields: [(String, String)] = []
        var i = 0
        while i < bytes.count {
            var j = i
            while bytes[j] != UInt8(ascii: "=") && bytes[j] != UInt8(ascii: "\n") { j += 1 }
            let name = String(decoding: bytes[i..<j], as: UTF8.self)
            if bytes[j] == UInt8(ascii: "=") {
                var k = j + 1
                while bytes[k] != UInt8(ascii: "\n") { k += 1 }
                fields.append((name, String(decoding: bytes[(j + 1)..<k], as: UTF8.self)))
                i = k + 1
            } else {
                var length: UInt64 = 0
                for b in 0..<8 { length |= UInt64(bytes[j + 1 + b]) << (8 * UInt64(b)) }
                let start = j + 9
                fields.append((name, String(decoding: bytes[start..<(start + Int(length))], as: UTF8.self)))
                i = start + Int(length) + 1
            }
        }
        return fields
    }
}

@Suite struct MirrorTests {
    @Test func eachDurableRecordReachesJournaldWithStructuredFields() async throws {
        try await withTemporaryDirectory { dir in
            let journald = try FakeJournald(directory: dir)
            let mirror = JournalMirror(socketPath: journald.path)
            #expect(mirror.isAvailable)
            let writer = try JournalWriter(directory: dir + "/j", options: writerOptions(mirror: mirror))
            let record = try await writer.append(sampleEvent(.violationDetected), cause: .udev(seqnum: 4711, action: "bind"))
            writer.close()
            let fields = try #require(journald.receive())
            func values(_ name: String) -> [String] { fields.filter { $0.0 == name }.map(\.1) }
            #expect(values("PCI_SLOT_NAME") == ["0000:03:01.0", "0000:03:01.1"])
            #expect(values("IOMMU_GROUP") == ["14"])
            #expect(values("OWNER") == ["vm1"])
            #expect(values("MESSAGE_ID") == [RecordKind.violationDetected.messageID])
            #expect(values("MESSAGE") == ["e1000e claimed 0000:03:01.0 while assigned to vm1"])
            #expect(values("PRIORITY") == ["4"])
            #expect(values("SYSLOG_IDENTIFIER") == ["vfio-warden"])
            #expect(values("UDEV_SEQNUM") == ["4711"])
            #expect(values("VFIO_WARDEN_SEQ") == ["1"])
            #expect(values("VFIO_WARDEN_KIND") == ["violation_detected"])
            let line = try #require(values("VFIO_WARDEN_RECORD").first)
            #expect(RecordCodec.check(Array(line.utf8)) == .valid(record))
        }
    }

    @Test func aFailedStepCarriesErrnoAndErrorPriority() {
        let record = JournalRecord(seq: 9, realtimeMicros: 0, monotonicNanos: 0, host: "h", cause: .udev(seqnum: 1, action: "bind"),
                                   event: sampleEvent(.stepFinished), prev: "", hash: "ff")
        let fields = JournalMirror.fields(for: record, line: nil)
        #expect(fields.contains { $0 == ("ERRNO", Array("16".utf8)) })
        #expect(fields.contains { $0 == ("PRIORITY", Array("3".utf8)) })
        #expect(fields.contains { $0 == ("PCI_SLOT_NAME", Array("0000:03:01.0".utf8)) })
    }

    @Test func aValueWithANewlineUsesTheLengthPrefixedForm() {
        let bytes = JournalMirror.encode([("MESSAGE", Array("two\nlines".utf8)), ("A", Array("b".utf8))])
        #expect(Array(bytes.prefix(8)) == Array("MESSAGE\n".utf8))
        #expect(Array(bytes[8..<16]) == [9, 0, 0, 0, 0, 0, 0, 0])
        let parsed = FakeJournald.parse(bytes)
        #expect(parsed.map(\.0) == ["MESSAGE", "A"] && parsed.map(\.1) == ["two\nlines", "b"])
    }

    @Test func withoutJournaldTheMirrorIsSilentlyOff() async throws {
        try await withTemporaryDirectory { dir in
            let mirror = JournalMirror(socketPath: dir + "/absent.sock")
            #expect(!mirror.isAvailable)
            let writer = try JournalWriter(directory: dir, options: writerOptions(mirror: mirror))
            #expect(try await writer.append(sampleEvent(.agentStarted)).seq == 1)
            writer.close()
        }
    }
}
