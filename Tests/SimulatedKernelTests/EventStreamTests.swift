import Testing
import SimulatedKernel
import SystemPackage
import Sysfs
import Topology

/// The uevent stream: what a netlink `NETLINK_KOBJECT_UEVENT` socket (and libudev's monitor) receives.
@Suite struct EventStreamTests {
    @Test func `write-side changes reach events() subscribers in SEQNUM order`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let stream = f.kernel.events()
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        var received: [DeviceEvent] = []
        for await event in stream {
            guard case .device(let device) = event else { Issue.record("unexpected \(event)"); break }
            received.append(device)
            if received.count == 2 { break }
        }
        #expect(summary(received) == ["unbind 0000:03:01.0", "bind 0000:03:01.0 DRIVER=e1000"])
        let seqnums = received.compactMap(\.seqnum)
        #expect(seqnums.count == 2 && seqnums[1] == seqnums[0] + 1)
        #expect(received == f.kernel.takeEmittedEvents())
    }

    @Test func `a subscriber whose receive queue overflows gets overflow first, then what was queued`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let stream = f.kernel.events(bufferLimit: 3)
        let burst = f.kernel.eventBurst(on: Q35.e1000, count: 10)
        #expect(burst.count == 10)
        #expect(burst.allSatisfy { $0.action == .change && $0.driver == "e1000" })
        try f.kernel.unbind(Q35.e1000)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .overflow)
        for expected in burst.prefix(3) {
            #expect(await iterator.next() == .device(expected))
        }
        // The queue drained: later events arrive again.
        let later = try f.kernel.bind(Q35.e1000, driver: "e1000")
        #expect(await iterator.next() == .device(later[0]))
    }

    @Test func `an unbounded subscriber loses nothing in a burst`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let stream = f.kernel.events()
        let burst = f.kernel.eventBurst(on: Q35.virtio, count: 500)
        var iterator = stream.makeAsyncIterator()
        var received: [MonitorEvent] = []
        for _ in 0..<500 { if let event = await iterator.next() { received.append(event) } }
        #expect(received == burst.map { .device($0) })
    }

    @Test func `the kernel's eventBufferLimit applies to subscribers that choose none`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        f.kernel.eventBufferLimit = 1
        let stream = f.kernel.events()
        let burst = f.kernel.eventBurst(on: Q35.virtio, count: 2)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .overflow)
        #expect(await iterator.next() == .device(burst[0]))
    }
}

@Suite struct ConcurrentWriteTests {
    @Test func `concurrent writers through SysfsAttributeWriter are serialised: SEQNUM strictly increases and every unbind pairs with a bind`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let writer: any SysfsAttributeWriter = f.kernel
        let devices: [(PCIAddress, String)] = [(Q35.e1000, "e1000"), (Q35.virtio, "virtio-pci"), (Q35.e1000e, "e1000e"), (Q35.ahci, "ahci")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (address, driver) in devices {
                group.addTask {
                    for _ in 0..<20 {
                        try writer.write(address.description, to: driverFile(driver, "unbind"))
                        try writer.write(address.description, to: driverFile(driver, "bind"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let events = f.kernel.takeEmittedEvents()
        #expect(events.count == 4 * 20 * 2)
        let seqnums = events.compactMap(\.seqnum)
        #expect(seqnums == Array(seqnums.first!..<(seqnums.first! + UInt64(events.count))))
        for (address, driver) in devices {
            let own = summary(events.filter { $0.address == address })
            #expect(own == Array(repeating: ["unbind \(address)", "bind \(address) DRIVER=\(driver)"], count: 20).flatMap { $0 })
            #expect(f.driver(address) == driver)
        }
    }
}
