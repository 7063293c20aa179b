#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
import Reports
import SimulatedKernel
import Sysfs
import Topology
@testable import Udev

/// What `watch` prints, driven by the simulated kernel's `events()` stream (or a replay of it) on a temporary
/// q35 tree: the follower applies each event, ``EventReport`` renders the step.
@Suite struct WatchFollowingTests {
    /// Takes the next `count` events of `events` through `follower`, rendered as `watch` prints them.
    static func follow(_ count: Int, of events: AsyncStream<MonitorEvent>, with follower: inout GraphFollower) async throws -> [[String]] {
        var output: [[String]] = []
        var iterator = events.makeAsyncIterator()
        for _ in 0..<count {
            let event = try #require(await iterator.next())
            output.append(render(try follower.follow(event)))
        }
        return output
    }

    static func render(_ step: GraphFollower.Step) -> [String] {
        switch step {
        case .device(let event, let change): EventReport.humanLines(event: event, change: change)
        case .resync(let change): EventReport.humanResyncLines(change: change)
        }
    }

    @Test func unbindShowsTheDriverTheDeviceHadAndViabilityFollows() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            let events = kernel.events()
            // Each event is followed before the next happening, as a watcher that keeps up does.
            var printed: [[String]] = []
            try kernel.unbind(.literal("0000:03:01.0"))
            printed += try await Self.follow(1, of: events, with: &follower)
            try kernel.bind(.literal("0000:03:01.0"), driver: "vfio-pci")
            printed += try await Self.follow(1, of: events, with: &follower)
            try kernel.unbind(.literal("0000:03:02.0"))
            printed += try await Self.follow(1, of: events, with: &follower)
            #expect(printed == [
                ["unbind 0000:03:01.0 driver=- seqnum=1001", "  ~ 0000:03:01.0 driver e1000 → -"],
                ["bind 0000:03:01.0 driver=vfio-pci seqnum=1002", "  ~ 0000:03:01.0 driver - → vfio-pci"],
                ["unbind 0000:03:02.0 driver=- seqnum=1003", "  ~ 0000:03:02.0 driver virtio-pci → -",
                 "  group 4: not viable → viable"],
            ])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func hotplugAndUnplugAddAndRemoveDevicesAndGroups() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            let events = kernel.events()
            let spec = DeviceSpec(.literal("0000:00:03.0"), vendor: 0x8086, device: 0x10fb, classCode: 0x020000,
                                  driver: "e1000e", group: 6)
            try kernel.hotplug(spec)
            // Events are followed after the kernel made them: the add already sees the driver, the bind adds nothing.
            let plugged = try await Self.follow(2, of: events, with: &follower)
            #expect(plugged == [
                ["add 0000:00:03.0 driver=- seqnum=1001",
                 "  + 0000:00:03.0 added: vendor 8086, device 10fb, subsystem_vendor 8086, subsystem_device 1100, class 020000, driver e1000e, iommu_group 6",
                 "  group 6: new, members 0000:00:03.0, not viable"],
                ["bind 0000:00:03.0 driver=e1000e seqnum=1002", "  (graph unchanged)"],
            ])
            try kernel.unplug(.literal("0000:00:03.0"))
            let unplugged = try await Self.follow(2, of: events, with: &follower)
            #expect(unplugged == [
                ["unbind 0000:00:03.0 driver=- seqnum=1003",
                 "  - 0000:00:03.0 removed (was vendor 8086, device 10fb, subsystem_vendor 8086, subsystem_device 1100, class 020000, driver e1000e, iommu_group 6)",
                 "  group 6: gone (members were 0000:00:03.0)"],
                ["remove 0000:00:03.0 driver=- seqnum=1004", "  (graph unchanged)"],
            ])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func removingAnEndpointShrinksItsGroup() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            let events = kernel.events()
            try kernel.unplug(.literal("0000:01:00.0"))
            let printed = try await Self.follow(2, of: events, with: &follower)
            #expect(printed[0].first == "unbind 0000:01:00.0 driver=- seqnum=1001")
            #expect(printed[0].contains { $0.hasPrefix("  - 0000:01:00.0 removed (was ") && $0.contains("driver e1000e") })
            #expect(printed[0].last == "  group 2: members 0000:00:1c.0, 0000:01:00.0 → 0000:00:1c.0; not viable → viable")
            #expect(printed[1] == ["remove 0000:01:00.0 driver=- seqnum=1002", "  (graph unchanged)"])
            #expect(follower.graph.groups[2]?.members == [.literal("0000:00:1c.0")])
        }
    }

    @Test func creatingVFsAddsThemInNewGroupsAndLinksThePF() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            let events = kernel.events()
            try kernel.setNumVFs(.literal("0000:02:00.0"), to: 2)
            let printed = try await Self.follow(4, of: events, with: &follower)
            #expect(printed.map { $0[0] } == [
                "add 0000:02:00.1 driver=- seqnum=1001", "bind 0000:02:00.1 driver=nvme seqnum=1002",
                "add 0000:02:00.2 driver=- seqnum=1003", "bind 0000:02:00.2 driver=nvme seqnum=1004",
            ])
            let firstVF = printed[0]
            #expect(firstVF.contains { $0.hasPrefix("  + 0000:02:00.1 added: ") && $0.contains("driver nvme")
                && $0.contains("iommu_group 6") && $0.contains("physfn 0000:02:00.0") })
            #expect(firstVF.contains { $0.hasPrefix("  ~ 0000:02:00.0 ") && $0.contains("virtfns - → 0000:02:00.1,0000:02:00.2") })
            #expect(firstVF.last == "  group 6: new, members 0000:02:00.1, not viable")
            #expect(printed[2].contains { $0.hasPrefix("  + 0000:02:00.2 added: ") && $0.contains("iommu_group 7") })
            #expect(printed[2].last == "  group 7: new, members 0000:02:00.2, not viable")

            // The VF handed to vfio-pci makes its group viable.
            try kernel.unbind(.literal("0000:02:00.1"))
            var handedOver = try await Self.follow(1, of: events, with: &follower)
            try kernel.bind(.literal("0000:02:00.1"), driver: "vfio-pci")
            handedOver += try await Self.follow(1, of: events, with: &follower)
            #expect(handedOver[0] == ["unbind 0000:02:00.1 driver=- seqnum=1005", "  ~ 0000:02:00.1 driver nvme → -",
                                      "  group 6: not viable → viable"])
            #expect(handedOver[1] == ["bind 0000:02:00.1 driver=vfio-pci seqnum=1006", "  ~ 0000:02:00.1 driver - → vfio-pci"])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func anOverflowRescansAndReportsWhatWasMissed() async throws {
        try await withScratchSysfs { root in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            let watched = SimulatedKernel(tree: tree)
            var follower = try GraphFollower(root: root)
            let events = watched.events()
            // Changes whose events nobody receives (a second kernel over the same tree, no subscribers), then ENOBUFS.
            let unseen = SimulatedKernel(tree: SysfsTree(existingAt: root))
            try unseen.unbind(.literal("0000:03:01.0"))
            try unseen.unbind(.literal("0000:03:02.0"))
            #expect(follower.graph != (try TopologyGraph.scan(root: root)))
            watched.overflow()
            let printed = try await Self.follow(1, of: events, with: &follower)
            #expect(printed == [[
                "resync: events were lost (receive buffer overflow); rescanned the whole graph",
                "  ~ 0000:03:01.0 driver e1000 → -",
                "  ~ 0000:03:02.0 driver virtio-pci → -",
                "  group 4: not viable → viable",
            ]])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
            // A second overflow with nothing missed changes nothing.
            watched.overflow()
            #expect(try await Self.follow(1, of: events, with: &follower) == [[
                "resync: events were lost (receive buffer overflow); rescanned the whole graph", "  (graph unchanged)",
            ]])
        }
    }

    @Test func aWatcherThatFallsBehindSeesTheTreeAsItIsNow() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            let events = kernel.events()
            try kernel.unbind(.literal("0000:03:01.0"))
            try kernel.bind(.literal("0000:03:01.0"), driver: "vfio-pci")
            // Both events are queued before the first is applied: apply re-reads sysfs, which already shows
            // vfio-pci, so the unbind reports the whole move and the bind finds nothing left to change.
            let printed = try await Self.follow(2, of: events, with: &follower)
            #expect(printed == [
                ["unbind 0000:03:01.0 driver=- seqnum=1001", "  ~ 0000:03:01.0 driver e1000 → vfio-pci"],
                ["bind 0000:03:01.0 driver=vfio-pci seqnum=1002", "  (graph unchanged)"],
            ])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func aFullReceiveQueueOverflowsAndTheResyncCatchesUp() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var follower = try GraphFollower(root: root)
            // A receive queue of one event, like a netlink socket whose buffer is full: the second is dropped.
            let events = kernel.events(bufferLimit: 1)
            try kernel.unbind(.literal("0000:03:01.0"))
            try kernel.unbind(.literal("0000:03:02.0"))
            let printed = try await Self.follow(2, of: events, with: &follower)
            // The loss is reported ahead of what is still queued; the rescan already holds the queued event's effect.
            #expect(printed == [
                ["resync: events were lost (receive buffer overflow); rescanned the whole graph",
                 "  ~ 0000:03:01.0 driver e1000 → -", "  ~ 0000:03:02.0 driver virtio-pci → -", "  group 4: not viable → viable"],
                ["unbind 0000:03:01.0 driver=- seqnum=1001", "  (graph unchanged)"],
            ])
            #expect(follower.graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func jsonLinesReplayToTheSameChanges() async throws {
        try await withScratchSysfs { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            let initial = try TopologyGraph.scan(root: root)
            var live = GraphFollower(root: root, graph: initial)
            let events = kernel.events()
            try kernel.unbind(.literal("0000:03:01.0"))
            try kernel.setNumVFs(.literal("0000:02:00.0"), to: 1)
            kernel.overflow()
            try kernel.bind(.literal("0000:03:01.0"), driver: "vfio-pci")
            var liveSteps: [GraphFollower.Step] = []
            var iterator = events.makeAsyncIterator()
            for _ in 0..<5 { liveSteps.append(try live.follow(try #require(await iterator.next()))) }
            let jsonLines = liveSteps.map { step in
                switch step {
                case .device(let event, let change): EventReport.jsonLine(event: event, change: change)
                case .resync(let change): EventReport.jsonResyncLine(change: change)
                }
            }
            let file = root.absolute("recorded.jsonl")
            try Data(("# recorded by watch --json\n\n" + jsonLines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))

            // The same starting graph, fed the recorded lines instead of the kernel.
            var replayed = GraphFollower(root: root, graph: initial)
            var replayedSteps: [GraphFollower.Step] = []
            for try await event in try EventReplay.events(path: file) { replayedSteps.append(try replayed.follow(event)) }
            #expect(replayedSteps.count == 5)
            #expect(replayedSteps.map { step -> MonitorEvent in
                if case .device(let event, _) = step { .device(event) } else { .overflow }
            } == liveSteps.map { step -> MonitorEvent in
                if case .device(let event, _) = step { .device(event) } else { .overflow }
            })
            // The first step (unbind, applied to the tree in its final state) and the later ones all agree.
            #expect(replayedSteps == liveSteps)
            #expect(replayed.graph == live.graph)
        }
    }
}

/// A fresh directory that plays `/sys` for one test, removed afterwards; tests never touch the real `/sys`.
func withScratchSysfs<T>(_ body: (SysfsRoot) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-udev-test-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(SysfsRoot(path))
}
