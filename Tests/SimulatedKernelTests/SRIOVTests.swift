import Testing
import SimulatedKernel
import SystemPackage
import Sysfs
import Topology

/// `sriov_numvfs_store`, `sriov_drivers_autoprobe_store` (drivers/pci/iov.c), `pci_iov_add_virtfn`,
/// `sriov_del_vfs` and `pci_device_can_probe` (drivers/pci/pci-driver.c).
@Suite struct SRIOVTests {
    @Test func `sriov_numvfs creates VFs linked to their PF, each in a new group, claimed by the native driver under autoprobe`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("2", to: attribute(.sriovNumVFs, Q35.nvme))
        #expect(f.takeEvents() == [
            "add 0000:02:00.1", "bind 0000:02:00.1 DRIVER=nvme",
            "add 0000:02:00.2", "bind 0000:02:00.2 DRIVER=nvme",
        ])
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "2")
        let graph = try TopologyGraph.scan(root: f.root)
        #expect(graph.devices[Q35.nvme]?.virtfns == [Q35.vf1, Q35.vf2])
        #expect(graph.devices[Q35.vf1]?.physfn == Q35.nvme)
        #expect(graph.devices[Q35.vf1]?.iommuGroup == 6)
        #expect(graph.devices[Q35.vf2]?.iommuGroup == 7)
        #expect(graph.devices[Q35.vf2]?.driver == "nvme")
    }

    @Test func `with sriov_drivers_autoprobe 0 new VFs appear unbound`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("0", to: attribute(.sriovDriversAutoprobe, Q35.nvme))
        try f.kernel.write("2", to: attribute(.sriovNumVFs, Q35.nvme))
        #expect(f.takeEvents() == ["add 0000:02:00.1", "add 0000:02:00.2"])
        #expect(f.driver(Q35.vf1) == nil)
        #expect(f.driver(Q35.vf2) == nil)
    }

    @Test func `a VF of a PF with autoprobe 0 can be bound only once it has a driver_override`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("0", to: attribute(.sriovDriversAutoprobe, Q35.nvme))
        try f.kernel.write("1", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        #expect(f.writeErrno(Q35.vf1.description, to: driverFile("nvme", "bind")) == .operationNotSupportedByDevice)
        try f.kernel.write(Q35.vf1.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.vf1) == nil)
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.vf1))
        try f.kernel.write(Q35.vf1.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.vf1) == "vfio-pci")
        #expect(f.takeEvents() == ["bind 0000:02:00.1 DRIVER=vfio-pci"])
    }

    @Test func `sriov_numvfs from nonzero to another nonzero is EBUSY`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        #expect(f.writeErrno("2", to: attribute(.sriovNumVFs, Q35.nvme)) == .resourceBusy)
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "1")
        #expect(!f.isPresent(Q35.vf2))
        #expect(f.takeEvents() == [])
    }

    @Test func `sriov_numvfs equal to the current count succeeds and changes nothing`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        try f.kernel.write("1\n", to: attribute(.sriovNumVFs, Q35.nvme))
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "1")
        #expect(f.takeEvents() == [])
    }

    @Test func `sriov_numvfs above sriov_totalvfs is ERANGE`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno("5", to: attribute(.sriovNumVFs, Q35.nvme)) == .outOfRange)
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "0")
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: ["two", "-1", "65536", ""])
    func `sriov_numvfs that is not a u16 is EINVAL`(value: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(value, to: attribute(.sriovNumVFs, Q35.nvme)) == .invalidArgument)
        #expect(f.takeEvents() == [])
    }

    @Test func `sriov_numvfs without a driver bound to the PF is ENOENT`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.nvme.description, to: driverFile("nvme", "unbind"))
        _ = f.takeEvents()
        #expect(f.writeErrno("2", to: attribute(.sriovNumVFs, Q35.nvme)) == .noSuchFileOrDirectory)
        #expect(!f.isPresent(Q35.vf1))
        #expect(f.takeEvents() == [])
    }

    @Test func `sriov_numvfs with a PF driver that has no sriov_configure is ENOENT`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("pci-stub", to: attribute(.driverOverride, Q35.nvme))
        try f.kernel.write(Q35.nvme.description, to: driverFile("nvme", "unbind"))
        try f.kernel.write(Q35.nvme.description, to: driverFile("pci-stub", "bind"))
        _ = f.takeEvents()
        #expect(f.writeErrno("2", to: attribute(.sriovNumVFs, Q35.nvme)) == .noSuchFileOrDirectory)
        #expect(f.takeEvents() == [])
    }

    @Test func `sriov_numvfs 0 stops and removes every VF in index order`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("2", to: attribute(.sriovNumVFs, Q35.nvme))
        _ = f.takeEvents()
        try f.kernel.write("0", to: attribute(.sriovNumVFs, Q35.nvme))
        #expect(f.takeEvents() == [
            "unbind 0000:02:00.1", "remove 0000:02:00.1",
            "unbind 0000:02:00.2", "remove 0000:02:00.2",
        ])
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "0")
        #expect(!f.isPresent(Q35.vf1) && !f.isPresent(Q35.vf2))
        #expect(!f.root.existsWithoutFollowing("\(PCIPaths.device(Q35.nvme))/virtfn0"))
        #expect(!f.root.existsWithoutFollowing("\(PCIPaths.iommuGroups)/6"))
    }

    @Test func `a PF unbound from its driver keeps its VFs, and vfio-pci refuses it with EBUSY while they exist`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1", to: attribute(.sriovNumVFs, Q35.nvme))
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.nvme))
        try f.kernel.write(Q35.nvme.description, to: driverFile("nvme", "unbind"))
        _ = f.takeEvents()
        #expect(f.isPresent(Q35.vf1))
        #expect(try f.root.read(attribute(.sriovNumVFs, Q35.nvme)) == "1")
        #expect(f.writeErrno(Q35.nvme.description, to: driverFile("vfio-pci", "bind")) == .resourceBusy)
        #expect(f.driver(Q35.nvme) == nil)
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: [("1", "1"), ("y", "1"), ("on", "1"), ("0\n", "0"), ("N", "0"), ("off", "0")])
    func `sriov_drivers_autoprobe takes kstrtobool values`(value: String, shown: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(value, to: attribute(.sriovDriversAutoprobe, Q35.nvme))
        #expect(try f.root.read(attribute(.sriovDriversAutoprobe, Q35.nvme)) == shown)
    }

    @Test(arguments: ["2", "maybe", "o"])
    func `sriov_drivers_autoprobe rejects what kstrtobool rejects with EINVAL`(value: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(value, to: attribute(.sriovDriversAutoprobe, Q35.nvme)) == .invalidArgument)
        #expect(try f.root.read(attribute(.sriovDriversAutoprobe, Q35.nvme)) == "1")
    }
}
