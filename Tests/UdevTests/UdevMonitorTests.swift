import Testing
import SystemPackage
import Sysfs
import Topology
@testable import Udev

/// The real libudev monitor: setup, failure reporting and stopping. These tests only listen (no udevd is needed:
/// with source `udev` and no udevd libudev subscribes to nothing) and never write anything; they assert no events.
@Suite(.serialized) struct UdevMonitorTests {
    @Test(arguments: UdevMonitor.Source.allCases)
    func startsAndStopsJoiningItsThread(source: UdevMonitor.Source) async throws {
        let monitor = try UdevMonitor(source: source, receiveBufferSize: 1 << 20)
        #expect(!monitor.isStopped)
        monitor.stop()
        #expect(monitor.isStopped)
        #expect(monitor.hasEnded)
        // After a stop the sequence ends: iteration finishes instead of waiting forever.
        var iterator = monitor.makeAsyncIterator()
        let next = await iterator.next()
        #expect(next == nil)
        #expect(monitor.failure == nil)
        monitor.stop() // idempotent
    }

    @Test func cancellingTheConsumerStopsTheMonitor() async throws {
        let monitor = try UdevMonitor(source: .kernel, receiveBufferSize: 1 << 20)
        let consumer = Task {
            var count = 0
            for await _ in monitor.events { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(50))
        consumer.cancel()
        _ = await consumer.value
        // The stream's termination handler woke the thread, which freed libudev's objects and ended.
        #expect(monitor.isStopped)
        for _ in 0..<200 where !monitor.hasEnded { try await Task.sleep(for: .milliseconds(10)) }
        #expect(monitor.hasEnded)
        #expect(monitor.failure == nil)
        monitor.stop() // returns at once: the thread detached itself
    }

    @Test func manyMonitorsComeAndGoWithoutLeakingPipesOrSockets() async throws {
        // Each monitor opens a netlink socket and a wake pipe (three descriptors). Other suites run in parallel
        // and open pipes and sockets of their own, so the count is compared with a margin below one descriptor per
        // monitor, re-read for a while until their descriptors settle: a leak of even one per monitor stays above it.
        let monitors = 60
        let before = try openDescriptorCount()
        for index in 0..<monitors {
            let monitor = try UdevMonitor(source: index.isMultiple(of: 2) ? .udev : .kernel, receiveBufferSize: 1 << 20)
            monitor.stop()
        }
        var grown = try openDescriptorCount() - before
        for _ in 0..<30 where grown >= monitors / 2 {
            try await Task.sleep(for: .milliseconds(100))
            grown = try openDescriptorCount() - before
        }
        #expect(grown < monitors / 2, "\(grown) more pipes and sockets open after \(monitors) monitors came and went")
    }

    @Test func aSetupFailureNamesTheLibudevCallAndErrno() {
        #expect {
            _ = try UdevMonitor(source: .udev, sourceName: "bogus", receiveBufferSize: 1 << 20)
        } throws: { error in
            guard let error = error as? UdevError else { return false }
            return error.operation == "udev_monitor_new_from_netlink" && error.what == "source bogus"
                && error.errno == .invalidArgument
                && error.description == "udev_monitor_new_from_netlink (source bogus): Invalid argument (errno 22)"
        }
    }

    @Test func aHugeReceiveBufferIsGrantedOrReportedAsLimited() throws {
        // As root SO_RCVBUFFORCE lifts the limit; unprivileged, the monitor still runs and says so.
        let monitor = try UdevMonitor(source: .kernel, receiveBufferSize: Int(Int32.max))
        defer { monitor.stop() }
        if let limited = monitor.receiveBufferLimited {
            #expect(limited.operation == "udev_monitor_set_receive_buffer_size")
            #expect(limited.errno == .notPermitted)
        } else {
            #expect(!monitor.isStopped)
        }
    }

    /// Open pipes and sockets of this process (`/proc/self/fd`, read-only).
    func openDescriptorCount() throws -> Int {
        let fds = SysfsRoot("/proc/self/fd")
        return try fds.list("").filter { name in
            guard let target = try? fds.readLink(name) else { return false }
            return target.hasPrefix("pipe:") || target.hasPrefix("socket:")
        }.count
    }
}
