import Testing
import Foundation
import Sysfs
import Topology
import SimulatedKernel
import Enforcement
@testable import Agent

/// After an overflow the receive queue still holds events from before the loss; they reach the engine after the
/// resync that the overflow caused. Found by the load run (Tests/LoadTests): a queued `remove` of a VF that the
/// PF driver had created again since (its `add` lost) took the new VF out of the graph until the next resync.
@Suite struct StaleEventTests {
    static let pf = PCIAddress.literal("0000:02:00.0")
    static let firstVF = PCIAddress.literal("0000:02:00.1")

    @Test func `an event queued before an overflow does not undo the resync`() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-stale-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory + "/sys", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = SysfsRoot(directory + "/sys")
        let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root), devDirectory: directory + "/dev")
        try kernel.write("0", to: "bus/pci/devices/0000:02:00.0/sriov_drivers_autoprobe")
        try kernel.setNumVFs(Self.pf, to: 4)
        let engine = try Engine(Engine.Configuration(root: root, writer: kernel, verdicts: { _ in VerdictTable([:]) }))

        // A receive queue of one event: the first VF's `remove` is queued, every later event is lost.
        let events = kernel.events(bufferLimit: 1)
        var iterator = events.makeAsyncIterator()
        let removed = try kernel.setNumVFs(Self.pf, to: 0)
        #expect(removed.first?.action == .remove && removed.first?.address == Self.firstVF)
        try kernel.setNumVFs(Self.pf, to: 4)

        let first = await iterator.next()
        #expect(first == .overflow, "the loss is reported ahead of the queued events")
        _ = await engine.handle(.overflow)
        #expect(await engine.graph.devices[Self.firstVF] != nil, "the resync found the VF created again")
        let stale = await iterator.next()
        guard case .device(let event)? = stale else {
            Issue.record("expected the queued remove, got \(String(describing: stale))")
            return
        }
        #expect(event.action == .remove && event.address == Self.firstVF)
        _ = await engine.handle(.device(event))
        #expect(await engine.graph.devices[Self.firstVF] != nil, "the stale remove was re-read, not trusted")
        #expect(await engine.graph == (try TopologyGraph.scan(root: root)))

        // An event after the resync is applied as it says.
        let gone = try kernel.setNumVFs(Self.pf, to: 0)
        for event in gone { _ = await engine.handle(.device(event)) }
        #expect(await engine.graph.devices[Self.firstVF] == nil)
    }
}
