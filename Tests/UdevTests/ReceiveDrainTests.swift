import Testing
import SystemPackage
import Sysfs
import Topology
@testable import Udev

/// The monitor thread's read policy, fed scripted `udev_monitor_receive_device` results instead of a socket.
@Suite struct ReceiveDrainTests {
    static func bind(_ address: String, seqnum: Int) -> ReceiveResult {
        .device(["ACTION": "bind", "SUBSYSTEM": "pci", "PCI_SLOT_NAME": address, "DRIVER": "vfio-pci", "SEQNUM": "\(seqnum)"])
    }

    static func event(_ address: String, seqnum: UInt64) -> MonitorEvent {
        .device(DeviceEvent(action: .bind, address: .literal(address), driver: "vfio-pci", seqnum: seqnum))
    }

    /// Hands out `script` one result per call, then `EAGAIN` forever; counts the calls.
    final class Script {
        var results: [ReceiveResult]
        var calls = 0
        init(_ results: [ReceiveResult]) { self.results = results }
        func next() -> ReceiveResult {
            calls += 1
            return results.isEmpty ? .failed(.resourceTemporarilyUnavailable) : results.removeFirst()
        }
    }

    @Test func readsUntilTheSocketIsEmpty() {
        let script = Script([Self.bind("0000:03:01.0", seqnum: 1), Self.bind("0000:03:02.0", seqnum: 2)])
        let batch = drainReceives(script.next)
        #expect(batch == ReceiveBatch(events: [Self.event("0000:03:01.0", seqnum: 1), Self.event("0000:03:02.0", seqnum: 2)]))
        #expect(script.calls == 3)
    }

    @Test func enobufsBecomesOneOverflowAndReadingGoesOn() {
        let script = Script([
            Self.bind("0000:03:01.0", seqnum: 1), .failed(.noBufferSpace), .failed(.noBufferSpace),
            Self.bind("0000:03:02.0", seqnum: 9),
        ])
        let batch = drainReceives(script.next)
        #expect(batch.events == [Self.event("0000:03:01.0", seqnum: 1), .overflow, Self.event("0000:03:02.0", seqnum: 9)])
        #expect(batch.fatal == nil)
    }

    @Test func anUndecodableUeventForcesAResyncAndIsKept() {
        let script = Script([.device(["ACTION": "explode", "PCI_SLOT_NAME": "0000:03:01.0"]), Self.bind("0000:03:01.0", seqnum: 3)])
        let batch = drainReceives(script.next)
        #expect(batch.events == [.overflow, Self.event("0000:03:01.0", seqnum: 3)])
        #expect(batch.undecodable.map(\.problem) == [.unknownAction("explode")])
    }

    @Test func eintrRetries() {
        let script = Script([.failed(.interrupted), Self.bind("0000:03:01.0", seqnum: 4)])
        #expect(drainReceives(script.next).events == [Self.event("0000:03:01.0", seqnum: 4)])
    }

    @Test(arguments: [Errno.badFileDescriptor, .noMemory, .connectionRefused])
    func anyOtherErrorEndsTheBatchAsFatal(errno: Errno) {
        let script = Script([Self.bind("0000:03:01.0", seqnum: 5), .failed(errno), Self.bind("0000:03:02.0", seqnum: 6)])
        let batch = drainReceives(script.next)
        #expect(batch.events == [Self.event("0000:03:01.0", seqnum: 5)])
        #expect(batch.fatal == errno)
        #expect(script.calls == 2)
    }

    @Test func aFloodIsReadInBoundedBatches() {
        let script = Script((0..<10).map { Self.bind("0000:03:01.0", seqnum: $0) })
        let first = drainReceives(limit: 4, script.next)
        let second = drainReceives(limit: 4, script.next)
        #expect(first.events.count == 4)
        #expect(second.events == (4..<8).map { Self.event("0000:03:01.0", seqnum: UInt64($0)) })
    }
}
