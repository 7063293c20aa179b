import Testing
import SimulatedKernel
import SystemPackage
import Sysfs
import Topology

/// `remove_store` → `pci_stop_and_remove_bus_device` (drivers/pci/remove.c) and `bus_rescan_store` →
/// `pci_rescan_bus` (drivers/pci/probe.c).
@Suite struct RemoveRescanTests {
    @Test func `remove stops the subtree (unbind, last first) then removes it (remove, last first)`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.remove, Q35.pciBridge))
        #expect(f.takeEvents() == [
            "unbind 0000:03:02.0", "unbind 0000:03:01.0",
            "remove 0000:03:02.0", "remove 0000:03:01.0", "remove 0000:00:02.0",
        ])
        #expect(!f.isPresent(Q35.pciBridge) && !f.isPresent(Q35.e1000) && !f.isPresent(Q35.virtio))
        #expect(!f.root.existsWithoutFollowing("\(PCIPaths.iommuGroups)/4"))
        #expect(!f.root.existsWithoutFollowing(driverFile("e1000", Q35.e1000.description)))
        // The virtio NIC's interface went with it; the e1000e's (elsewhere) stayed.
        #expect(!f.root.existsWithoutFollowing("class/net/enp3s2"))
        #expect(f.root.exists("class/net/enp1s0"))
    }

    @Test func `remove of a PF removes its VFs first`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        try f.kernel.write("1", to: attribute(.remove, Q35.nvme))
        #expect(f.takeEvents() == ["unbind 0000:02:00.1", "remove 0000:02:00.1", "unbind 0000:02:00.0", "remove 0000:02:00.0"])
        #expect(!f.isPresent(Q35.nvme) && !f.isPresent(Q35.vf1))
    }

    @Test func `a VF removed on its own leaves its PF's virtfn link dangling until SR-IOV is disabled`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("2", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        try f.kernel.write("1", to: attribute(.remove, Q35.vf1))
        #expect(f.takeEvents() == ["unbind 0000:02:00.1", "remove 0000:02:00.1"])
        #expect(f.root.existsWithoutFollowing("\(PCIPaths.device(Q35.nvme))/virtfn0"))
        #expect(!f.root.exists("\(PCIPaths.device(Q35.nvme))/virtfn0"))
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "2")
        try f.kernel.write("0", to: attribute(.sriovNumVFs, Q35.nvme))
        #expect(f.takeEvents() == ["unbind 0000:02:00.2", "remove 0000:02:00.2"])
        #expect(!f.root.existsWithoutFollowing("\(PCIPaths.device(Q35.nvme))/virtfn0"))
        // A rescan does not bring VFs back.
        try f.kernel.write("1", to: PCIPaths.rescan)
        #expect(!f.isPresent(Q35.vf1))
        #expect(f.takeEvents() == [])
    }

    @Test func `writing 0 to remove does nothing and a non-number is EINVAL`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("0", to: attribute(.remove, Q35.e1000))
        #expect(f.writeErrno("yes", to: attribute(.remove, Q35.e1000)) == .invalidArgument)
        #expect(f.isPresent(Q35.e1000))
        #expect(f.takeEvents() == [])
    }

    @Test func `rescan brings removed devices back, adds first, then probes drivers`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.remove, Q35.pciBridge))
        _ = f.takeEvents()
        try f.kernel.write("1", to: PCIPaths.rescan)
        #expect(f.takeEvents() == [
            "add 0000:00:02.0", "add 0000:03:01.0", "add 0000:03:02.0",
            "bind 0000:03:01.0 DRIVER=e1000", "bind 0000:03:02.0 DRIVER=virtio-pci",
        ])
        let graph = try TopologyGraph.scan(root: f.root)
        #expect(graph.groups[4]?.members == [Q35.pciBridge, Q35.e1000, Q35.virtio])
        #expect(graph.devices[Q35.e1000]?.parent == Q35.pciBridge)
        #expect(graph.devices[Q35.e1000]?.driverOverride == nil)
    }

    @Test(arguments: [("1", nil), ("2", Errno.invalidArgument), ("x", Errno.invalidArgument)] as [(String, Errno?)])
    func `reset accepts only 1 and changes nothing sysfs shows`(value: String, errno: Errno?) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(value, to: attribute(.reset, Q35.e1000)) == errno)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
    }

    @Test func `a rescan with nothing removed adds nothing`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: PCIPaths.rescan)
        #expect(f.takeEvents() == [])
        #expect(try TopologyGraph.scan(root: f.root).devices.count == ExampleHosts.q35.count)
    }

    @Test func `a surprise removal is not brought back by a rescan`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(summary(try f.kernel.unplug(Q35.e1000)) == ["unbind 0000:03:01.0", "remove 0000:03:01.0"])
        try f.kernel.write("1", to: PCIPaths.rescan)
        #expect(!f.isPresent(Q35.e1000))
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "remove 0000:03:01.0"])
    }
}
