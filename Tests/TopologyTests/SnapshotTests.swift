import Testing
import Sysfs
@testable import Topology
import SimulatedKernel

@Suite struct SnapshotTests {
    @Test func aSnapshotReadsBackAsTheSameGraph() throws {
        try withTemporaryRoot { source in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: source))
            try kernel.setNumVFs(.literal("0000:02:00.0"), to: 3)
            try kernel.unbind(.literal("0000:03:01.0"))
            try withTemporaryRoot { parent in
                let destination = SysfsRoot(parent.absolute("snapshot"))
                var snapshot = SysfsSnapshot(from: source, to: destination)
                try snapshot.write()
                #expect(snapshot.problems.isEmpty)
                #expect(snapshot.deviceCount == ExampleHosts.q35.count + 3)
                #expect(try TopologyGraph.scan(root: destination) == TopologyGraph.scan(root: source))
                // What host-use analysis needs comes along, and config space for lspci.
                #expect(try destination.readLink("block/sda").hasSuffix("0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"))
                #expect(destination.exists("class/net/enp3s2/operstate"))
                #expect(try destination.readBytes("bus/pci/devices/0000:03:01.0/config").count == 256)
                // Write-only files keep their place, empty; the driver directories keep their device links.
                #expect(try destination.read("bus/pci/drivers/e1000/bind") == "")
                #expect(try destination.linkName("bus/pci/drivers/nvme/0000:02:00.0") == "0000:02:00.0")
            }
        }
    }

    @Test func attributesThatAreNotKnownAreNotRead() throws {
        try withTemporaryRoot { source in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: source)
            let directory = try tree.deviceDirectory(.literal("0000:03:01.0"))
            // `vpd` can block for seconds on real hardware; a snapshot never reads it.
            try tree.writeFile("\(directory)/vpd", "secret")
            try withTemporaryRoot { parent in
                let destination = SysfsRoot(parent.absolute("snapshot"))
                var snapshot = SysfsSnapshot(from: source, to: destination)
                try snapshot.write()
                #expect(!destination.existsWithoutFollowing("bus/pci/devices/0000:03:01.0/vpd"))
                #expect(destination.existsWithoutFollowing("bus/pci/devices/0000:03:01.0/vendor"))
            }
        }
    }
}
