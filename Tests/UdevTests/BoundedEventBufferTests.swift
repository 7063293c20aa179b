import Foundation
import Testing
import Sysfs
import Topology
@testable import Udev

/// Issue 19: the buffer between the udev monitor thread and the engine is bounded; a storm against a stalled engine
/// drops events into one overflow (a journaled resync), never unbounded memory.
@Suite struct BoundedEventBufferTests {
    /// A uevent as the monitor thread pushes it, with a devpath long enough to live on the heap as a real one does.
    static func event(_ seqnum: Int) -> MonitorEvent {
        .device(DeviceEvent(action: .change, address: .literal("0000:03:00.0"), driver: "vfio-pci", seqnum: UInt64(seqnum),
                            devpath: "/devices/pci0000:00/0000:00:01.0/0000:03:00.0/storm/\(seqnum)"))
    }

    /// This process's resident set size (`VmRSS` in `/proc/self/status`), in KiB.
    static func residentKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// The stream the monitor hands the engine, over `buffer` (as ``UdevMonitor`` builds it).
    static func stream(_ buffer: BoundedEventBuffer) -> AsyncStream<MonitorEvent> {
        AsyncStream(unfolding: { await buffer.next() }, onCancel: { buffer.finish() })
    }

    @Test func aMillionEventStormAgainstAStalledConsumerStaysAtTheBoundAndEndsInOneOverflow() async throws {
        let storm = 1_000_000
        let buffer = BoundedEventBuffer()
        #expect(buffer.capacity == 4_096)
        let (taken, tookFirst) = AsyncStream.makeStream(of: Void.self)
        let (gate, openGate) = AsyncStream.makeStream(of: Void.self)
        // The engine: takes the first event, then stalls (a slow plan) until the gate opens.
        let consumer = Task {
            var received: [MonitorEvent] = []
            for await event in Self.stream(buffer) {
                received.append(event)
                if received.count == 1 {
                    tookFirst.yield()
                    for await _ in gate { break }
                }
                if event == .overflow { break }
            }
            return received
        }
        buffer.push(Self.event(0))
        for await _ in taken { break }

        let before = try Self.residentKiB()
        for seqnum in 1...storm { buffer.push(Self.event(seqnum)) }
        let after = try Self.residentKiB()
        let statistics = buffer.statistics
        print("storm of \(storm) uevents against a stalled consumer: buffer \(buffer.count) events (capacity \(buffer.capacity)), "
              + "dropped \(statistics.dropped), RSS \(before) KiB before, \(after) KiB after, growth \(after - before) KiB")
        // At its bound: the capacity, plus the one overflow every loss folded into.
        #expect(buffer.count == buffer.capacity + 1)
        #expect(statistics.highWater == buffer.capacity + 1)
        #expect(statistics.dropped == storm - buffer.capacity)
        #expect(statistics.overflowsQueued == 1)
        // A million buffered events would take hundreds of MiB; the bounded buffer, well under 1 MiB. The bound leaves
        // room for the other suites running in this process at the same time.
        #expect(after - before < 32 * 1024, "RSS grew by \(after - before) KiB over the storm")

        openGate.yield()
        let received = await consumer.value
        // The events buffered before the loss, in order, then one overflow: the engine rescans once.
        #expect(received.count == buffer.capacity + 2)
        #expect(Array(received.dropLast()) == (0...buffer.capacity).map(Self.event))
        #expect(received.last == .overflow)
        #expect(received.filter { $0 == .overflow }.count == 1)
        #expect(buffer.count == 0)
    }

    @Test func eventsAfterTheLossComeAfterItsOverflowAndANewLossGivesANewOne() async {
        let buffer = BoundedEventBuffer(capacity: 2)
        for seqnum in 0..<5 { buffer.push(Self.event(seqnum)) }
        buffer.push(.overflow)                      // the kernel's ENOBUFS folds into the one already queued
        #expect(buffer.count == 3)
        #expect(await buffer.next() == Self.event(0))
        #expect(await buffer.next() == Self.event(1))
        buffer.push(Self.event(5))                  // room again: queued after the overflow
        buffer.push(Self.event(6))                  // full (the overflow and 5): a new loss, a new overflow
        buffer.push(Self.event(7))                  // folds into it
        #expect(buffer.count == 3)
        #expect(await buffer.next() == .overflow)
        #expect(await buffer.next() == Self.event(5))
        #expect(await buffer.next() == .overflow)
        #expect(buffer.statistics.dropped == 5)
        #expect(buffer.statistics.overflowsQueued == 2)
    }

    @Test func finishingDeliversWhatIsQueuedThenEndsAndRefusesMore() async {
        let buffer = BoundedEventBuffer(capacity: 8)
        #expect(buffer.push(Self.event(1)))
        buffer.finish()
        #expect(!buffer.push(Self.event(2)))
        #expect(await buffer.next() == Self.event(1))
        #expect(await buffer.next() == nil)
    }

    @Test func aWaitingConsumerGetsAnEventPushedLater() async {
        let buffer = BoundedEventBuffer(capacity: 1)
        let consumer = Task { await buffer.next() }
        // Whether the consumer is already waiting or not, the event reaches it.
        try? await Task.sleep(for: .milliseconds(20))
        buffer.push(Self.event(9))
        #expect(await consumer.value == Self.event(9))
    }

    @Test func theMonitorBuffersAtTheCapacityAskedFor() throws {
        let monitor = try UdevMonitor(source: .kernel, receiveBufferSize: 1 << 20, eventCapacity: 16)
        defer { monitor.stop() }
        #expect(monitor.eventCapacity == 16)
        #expect(monitor.bufferStatistics == BoundedEventBuffer.Statistics())
        let byDefault = try UdevMonitor(source: .kernel, receiveBufferSize: 1 << 20)
        defer { byDefault.stop() }
        #expect(byDefault.eventCapacity == BoundedEventBuffer.defaultCapacity)
    }
}
