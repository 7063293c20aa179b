import Testing
import SimulatedKernel
import SystemPackage
import Sysfs

/// `/dev/vfio/N` (`vfio_register_group_dev` / `vfio_unregister_group_dev`), `vfio_group_fops_open`,
/// `iommu_group_claim_dma_owner` and `iommu_device_use_default_domain` (since 5.19, `driver_managed_dma`).
@Suite struct VFIOGroupTests {
    /// Puts the e1000e (group 2, behind its root port on pcieport) on vfio-pci.
    func isolateGroup2(_ f: Fixture) throws {
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000e))
        try f.kernel.write(Q35.e1000e.description, to: driverFile("e1000e", "unbind"))
        try f.kernel.write(Q35.e1000e.description, to: PCIPaths.driversProbe)
    }

    @Test func `/dev/vfio/N appears when a member binds to vfio-pci and goes when none is left`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(!f.kernel.vfioGroupNodeExists(2))
        try isolateGroup2(f)
        #expect(f.kernel.vfioGroupNodeExists(2))
        #expect(f.kernel.vfioGroupNode(2) == f.base + "/dev/vfio/2")
        try f.kernel.write(Q35.e1000e.description, to: driverFile("vfio-pci", "unbind"))
        #expect(!f.kernel.vfioGroupNodeExists(2))
        #expect(f.takeEvents() == [
            "unbind 0000:01:00.0", "bind 0000:01:00.0 DRIVER=vfio-pci", "unbind 0000:01:00.0",
        ])
    }

    @Test func `/dev/vfio/N exists although the group is not viable, and attaching it is EPERM`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        #expect(f.kernel.vfioGroupNodeExists(4))
        #expect(f.driver(Q35.virtio) == "virtio-pci")
        #expect(f.openGroupErrno(4) == .notPermitted)
        #expect(f.kernel.openGroups.isEmpty)
    }

    @Test func `opening a group without a node is ENOENT and opening it twice is EBUSY`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.openGroupErrno(2) == .noSuchFileOrDirectory)
        try isolateGroup2(f)
        let handle = try f.kernel.openGroup(2)
        #expect(f.openGroupErrno(2) == .resourceBusy)
        #expect(f.kernel.openGroups == [2])
        handle.close()
        #expect(f.kernel.openGroups.isEmpty)
    }

    @Test func `while a VFIO user holds the group a DMA host driver cannot bind (EBUSY), and can once it lets go`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try isolateGroup2(f)
        let handle = try f.kernel.openGroup(2)
        try f.kernel.write("\n", to: attribute(.driverOverride, Q35.e1000e))
        try f.kernel.write(Q35.e1000e.description, to: driverFile("vfio-pci", "unbind"))
        _ = f.takeEvents()
        #expect(f.writeErrno(Q35.e1000e.description, to: driverFile("e1000e", "bind")) == .resourceBusy)
        // drivers_probe: device_attach returns the dma_configure failure negative, drivers_probe_store makes it EINVAL.
        #expect(f.writeErrno(Q35.e1000e.description, to: PCIPaths.driversProbe) == .invalidArgument)
        // new_id's driver_attach ignores it: success, nothing bound.
        try f.kernel.write("8086 10d3", to: driverFile("e1000", "new_id"))
        try f.kernel.write("8086 10d3", to: driverFile("e1000", "remove_id"))
        #expect(f.driver(Q35.e1000e) == nil)
        #expect(throws: SysfsError.self) { try f.kernel.bind(Q35.e1000e, driver: "e1000e") }
        #expect(f.takeEvents() == [])
        handle.close()
        try f.kernel.write(Q35.e1000e.description, to: driverFile("e1000e", "bind"))
        #expect(f.driver(Q35.e1000e) == "e1000e")
        #expect(f.takeEvents() == ["bind 0000:01:00.0 DRIVER=e1000e"])
    }

    @Test(arguments: ["vfio-pci", "pci-stub"])
    func `drivers that manage DMA themselves may bind while the group is held`(driver: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try isolateGroup2(f)
        let handle = try f.kernel.openGroup(2); defer { handle.close() }
        try f.kernel.write(Q35.e1000e.description, to: driverFile("vfio-pci", "unbind"))
        try f.kernel.write(driver, to: attribute(.driverOverride, Q35.e1000e))
        _ = f.takeEvents()
        try f.kernel.write(Q35.e1000e.description, to: driverFile(driver, "bind"))
        #expect(f.driver(Q35.e1000e) == driver)
        #expect(f.takeEvents() == ["bind 0000:01:00.0 DRIVER=\(driver)"])
    }

    @Test func `a kernel over a tree with members already on vfio-pci has their nodes`() throws {
        var specs = ExampleHosts.q35
        if let index = specs.firstIndex(where: { $0.address == Q35.e1000e }) { specs[index].driver = "vfio-pci" }
        let f = try Fixture(specs); defer { f.cleanUp() }
        #expect(f.kernel.vfioGroupNodeExists(2))
        #expect(!f.kernel.vfioGroupNodeExists(4))
    }
}
