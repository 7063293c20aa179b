import Testing
import Sysfs
@testable import Topology
import SimulatedKernel

/// A tree with missing or garbled attributes is reported device by device, and everything else is still listed.
@Suite struct DamagedTreeTests {
    @Test func eachDamagedAttributeIsReportedOnItsDeviceAndTheRestIsListed() throws {
        try withTemporaryRoot { root in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            let e1000 = try tree.deviceDirectory(.literal("0000:03:01.0"))
            let virtio = try tree.deviceDirectory(.literal("0000:03:02.0"))
            let nvme = try tree.deviceDirectory(.literal("0000:02:00.0"))
            let ahci = try tree.deviceDirectory(.literal("0000:00:1f.2"))
            try tree.writeFile("\(e1000)/vendor", "0x80")                       // truncated
            try tree.removeItem("\(virtio)/class")                              // missing
            try tree.symlink("\(nvme)/driver", to: "bus/pci/drivers/gone")      // dangling driver link
            try tree.symlink("\(ahci)/iommu_group", to: "kernel/iommu_groups/77") // group link pointing nowhere
            try tree.makeDirectory("bus/pci/devices/not-an-address")

            let graph = try TopologyGraph.scan(root: root)
            #expect(graph.devices.count == ExampleHosts.q35.count)
            #expect(graph.problems == ["bus/pci/devices/not-an-address: not a PCI address, skipped"])

            let e1000Device = try #require(graph.devices[.literal("0000:03:01.0")])
            #expect(e1000Device.vendorID == nil)
            #expect(e1000Device.deviceID == 0x100e)
            #expect(e1000Device.driver == "e1000")
            #expect(e1000Device.problems == [DeviceProblem(attribute: "vendor", message: "'0x80' is not 0x followed by 4 hex digits")])

            let virtioDevice = try #require(graph.devices[.literal("0000:03:02.0")])
            #expect(virtioDevice.classCode == nil)
            #expect(virtioDevice.problems.map(\.attribute) == ["class"])
            #expect(virtioDevice.problems.first?.message.contains("No such file") == true)

            let nvmeDevice = try #require(graph.devices[.literal("0000:02:00.0")])
            #expect(nvmeDevice.driver == nil)
            #expect(nvmeDevice.problems.map(\.attribute) == ["driver"])
            #expect(nvmeDevice.problems.first?.message.contains("does not exist") == true)

            // A read error never shrinks a group: kernel/iommu_groups/5/devices still lists the AHCI controller.
            let ahciDevice = try #require(graph.devices[.literal("0000:00:1f.2")])
            #expect(ahciDevice.iommuGroup == 5)
            #expect(ahciDevice.problems.map(\.attribute) == ["iommu_group"])
            #expect(graph.groups[5]?.members.map(\.description) == ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"])

            // Untouched devices carry no problems.
            #expect(graph.devices[.literal("0000:01:00.0")]?.problems.isEmpty == true)
        }
    }

    /// Issue 12 item 7: a member whose `iommu_group` link is missing (or unreadable) stays in the group the kernel
    /// lists it in, on a full scan and on an event alike, so its group is never assigned without it.
    @Test func aMemberWhoseGroupLinkIsMissingStaysInItsGroup() throws {
        try withTemporaryRoot { root in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            let virtio = try tree.deviceDirectory(.literal("0000:03:02.0"))
            try tree.removeItem("\(virtio)/iommu_group")
            var graph = try TopologyGraph.scan(root: root)
            #expect(graph.devices[.literal("0000:03:02.0")]?.iommuGroup == 4)
            #expect(graph.devices[.literal("0000:03:02.0")]?.problems.map(\.attribute) == ["iommu_group"])
            #expect(graph.groups[4]?.members.count == 3)
            _ = graph.apply(DeviceEvent(action: .change, address: .literal("0000:03:02.0")), reading: root)
            #expect(graph.groups[4]?.members.count == 3)
            #expect(graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func aRootWithoutABusIsAnErrorNamingThePath() throws {
        try withTemporaryRoot { root in
            #expect {
                try TopologyGraph.scan(root: root)
            } throws: { error in
                let error = error as? SysfsError
                return error?.errno == .noSuchFileOrDirectory && error?.path == root.absolute("bus/pci/devices")
            }
        }
    }
}
