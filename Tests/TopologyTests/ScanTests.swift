import Testing
import Sysfs
@testable import Topology
import SimulatedKernel

@Suite struct ScanTests {
    @Test func scansTheQ35ExampleIntoItsGroups() throws {
        try withTemporaryRoot { root in
            try ExampleHosts.build(ExampleHosts.q35, at: root)
            let graph = try TopologyGraph.scan(root: root)
            #expect(graph.devices.count == ExampleHosts.q35.count)
            #expect(graph.sortedGroups.map(\.number) == [0, 1, 2, 3, 4, 5])
            #expect(graph.groups[4]?.members.map(\.description) == ["0000:00:02.0", "0000:03:01.0", "0000:03:02.0"])
            #expect(graph.groups[5]?.members.map(\.description) == ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"])
            let ahci = try #require(graph.devices[.literal("0000:00:1f.2")])
            #expect(ahci.driver == "ahci")
            #expect(ahci.ids == "8086:2922")
            #expect(ahci.className == "SATA controller")
            #expect(ahci.problems.isEmpty)
            let e1000 = try #require(graph.devices[.literal("0000:03:01.0")])
            #expect(e1000.parent == .literal("0000:00:02.0"))
            #expect(graph.devices[.literal("0000:00:02.0")]?.isBridge == true)
            #expect(graph.devices[.literal("0000:02:00.0")]?.sriov == SRIOVState(totalVFs: 4, numVFs: 0, driversAutoprobe: true))
        }
    }

    @Test func viabilityNamesEachHostDriverInTheWay() throws {
        try withTemporaryRoot { root in
            try ExampleHosts.build(ExampleHosts.q35, at: root)
            let graph = try TopologyGraph.scan(root: root)
            let bridgeGroup = graph.viability(ofGroup: 4)
            #expect(!bridgeGroup.viable)
            #expect(bridgeGroup.reasons == [
                "0000:03:01.0 (endpoint) is bound to host driver e1000",
                "0000:03:02.0 (endpoint) is bound to host driver virtio-pci",
            ])
            // A root port on pcieport with its endpoint on vfio-pci is viable.
            let kernel = SimulatedKernel(tree: SysfsTree(existingAt: root))
            try kernel.unbind(.literal("0000:01:00.0"))
            #expect(try TopologyGraph.scan(root: root).viability(ofGroup: 2).viable)
            try kernel.bind(.literal("0000:01:00.0"), driver: "vfio-pci")
            #expect(try TopologyGraph.scan(root: root).viability(ofGroup: 2) == GroupViability(viable: true, reasons: []))
        }
    }

    @Test func withoutAnIOMMUNoDeviceHasAGroup() throws {
        try withTemporaryRoot { root in
            try ExampleHosts.build(ExampleHosts.q35WithoutIOMMU, at: root)
            let graph = try TopologyGraph.scan(root: root)
            #expect(graph.groups.isEmpty)
            #expect(graph.ungroupedDevices.count == ExampleHosts.q35.count)
        }
    }

    @Test func sriovVFsAreLinkedBothWaysEachInANewGroup() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            let events = try kernel.setNumVFs(.literal("0000:02:00.0"), to: 2)
            #expect(events.map(\.action) == [.add, .bind, .add, .bind])
            let graph = try TopologyGraph.scan(root: root)
            let pf = try #require(graph.devices[.literal("0000:02:00.0")])
            #expect(pf.virtfns.map(\.description) == ["0000:02:00.1", "0000:02:00.2"])
            #expect(pf.sriov?.numVFs == 2)
            #expect(graph.devices[.literal("0000:02:00.1")]?.physfn == pf.address)
            #expect(graph.devices[.literal("0000:02:00.1")]?.iommuGroup == 6)
            #expect(graph.devices[.literal("0000:02:00.2")]?.iommuGroup == 7)
        }
    }
}
