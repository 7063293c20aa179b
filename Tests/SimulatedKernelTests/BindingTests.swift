import Testing
import SimulatedKernel
import SystemPackage
import Sysfs

/// `bind_store`, `unbind_store`, `drivers_probe_store` (drivers/base/bus.c) and `pci_bus_match` /
/// `pci_match_device` (drivers/pci/pci-driver.c).
@Suite struct BindingTests {
    @Test func `bind binds a device the driver's id table matches, with a bind event carrying DRIVER`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        _ = f.takeEvents()
        try f.kernel.write(Q35.e1000.description + "\n", to: driverFile("e1000", "bind"))
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.root.existsWithoutFollowing(driverFile("e1000", Q35.e1000.description)))
        #expect(f.takeEvents() == ["bind 0000:03:01.0 DRIVER=e1000"])
    }

    @Test func `bind of a device the driver does not match is ENODEV`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        _ = f.takeEvents()
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("e1000e", "bind")) == .operationNotSupportedByDevice)
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.takeEvents() == [])
    }

    @Test func `bind of a device that already has a driver is EBUSY`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("vfio-pci", "bind")) == .resourceBusy)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
    }

    @Test func `bind honours driver_override although the driver's table does not match`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: driverFile("vfio-pci", "bind"))
        #expect(f.driver(Q35.e1000) == "vfio-pci")
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "bind 0000:03:01.0 DRIVER=vfio-pci"])
    }

    @Test func `with driver_override set, a driver of another name cannot bind although its table matches`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        _ = f.takeEvents()
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("e1000", "bind")) == .operationNotSupportedByDevice)
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: ["0000:09:00.0", "03:01.0", "garbage"])
    func `bind and drivers_probe of a name that is no device are ENODEV`(name: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        _ = f.takeEvents()
        #expect(f.writeErrno(name, to: driverFile("e1000", "bind")) == .operationNotSupportedByDevice)
        #expect(f.writeErrno(name, to: PCIPaths.driversProbe) == .operationNotSupportedByDevice)
        #expect(f.takeEvents() == [])
    }

    @Test func `unbind releases the device with an unbind event without DRIVER and keeps driver_override`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description + "\n", to: driverFile("e1000", "unbind"))
        #expect(f.driver(Q35.e1000) == nil)
        #expect(!f.root.existsWithoutFollowing(driverFile("e1000", Q35.e1000.description)))
        #expect(f.override(Q35.e1000) == "vfio-pci")
        let events = f.kernel.takeEmittedEvents()
        #expect(summary(events) == ["unbind 0000:03:01.0"])
        #expect(events.first?.driver == nil)
        #expect(events.first?.devpath == "/devices/pci0000:00/0000:00:02.0/0000:03:01.0")
    }

    @Test func `unbind from a driver the device is not bound to is ENODEV`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("e1000e", "unbind")) == .operationNotSupportedByDevice)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
    }

    @Test func `drivers_probe reports success even when nothing binds`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.hostBridge.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.hostBridge) == nil)
        #expect(f.takeEvents() == [])
    }

    @Test func `drivers_probe binds the driver whose id table matches`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "bind 0000:03:01.0 DRIVER=e1000"])
    }

    @Test func `drivers_probe with driver_override set binds only that driver`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.e1000) == "vfio-pci")
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "bind 0000:03:01.0 DRIVER=vfio-pci"])
    }

    @Test func `drivers_probe leaves a bound device with its driver`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
    }

    @Test func `the PCIe-to-PCI bridge matches pcieport's table but its probe turns it down`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.pciBridge.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.pciBridge) == nil)
        #expect(f.writeErrno(Q35.pciBridge.description, to: driverFile("pcieport", "bind")) == .operationNotSupportedByDevice)
        #expect(f.takeEvents() == [])
    }

    @Test func `vfio-pci's probe refuses a bridge: bind is EINVAL, drivers_probe succeeds with nothing bound`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.pciBridge))
        #expect(f.writeErrno(Q35.pciBridge.description, to: driverFile("vfio-pci", "bind")) == .invalidArgument)
        try f.kernel.write(Q35.pciBridge.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.pciBridge) == nil)
        #expect(f.takeEvents() == [])
    }

    @Test func `new_id adds a dynamic id and binds unbound matching devices at once`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        _ = f.takeEvents()
        try f.kernel.write("8086 100e", to: driverFile("pci-stub", "new_id"))
        #expect(f.driver(Q35.e1000) == "pci-stub")
        #expect(f.kernel.dynamicIDs(of: "pci-stub") == [PCIDeviceID(vendor: 0x8086, device: 0x100e)])
        #expect(f.takeEvents() == ["bind 0000:03:01.0 DRIVER=pci-stub"])
    }

    @Test func `new_id leaves devices that are already bound with their driver`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("1af4 1000", to: driverFile("vfio-pci", "new_id"))
        #expect(f.driver(Q35.virtio) == "virtio-pci")
        #expect(f.takeEvents() == [])
        // The dynamic id counts at the next probe: with virtio-pci gone, vfio-pci takes the device.
        try f.kernel.unloadModule("virtio-pci")
        try f.kernel.write(Q35.virtio.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.virtio) == "vfio-pci")
        #expect(f.takeEvents() == ["unbind 0000:03:02.0", "bind 0000:03:02.0 DRIVER=vfio-pci"])
    }

    @Test func `new_id of an id the driver already matches is EEXIST`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno("8086 100e", to: driverFile("e1000", "new_id")) == .fileExists)
        try f.kernel.write("8086 10d3", to: driverFile("pci-stub", "new_id"))
        #expect(f.writeErrno("8086 10d3", to: driverFile("pci-stub", "new_id")) == .fileExists)
        #expect(f.kernel.dynamicIDs(of: "e1000") == [])
        #expect(f.kernel.dynamicIDs(of: "pci-stub").count == 1)
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: ["8086", "\n", "zz 100e"])
    func `new_id and remove_id with fewer than two hex fields are EINVAL`(value: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(value, to: driverFile("vfio-pci", "new_id")) == .invalidArgument)
        #expect(f.writeErrno(value, to: driverFile("vfio-pci", "remove_id")) == .invalidArgument)
        #expect(f.kernel.dynamicIDs(of: "vfio-pci") == [])
        #expect(f.takeEvents() == [])
    }

    @Test func `remove_id forgets a dynamic id and leaves bound devices bound`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write("8086 100e", to: driverFile("pci-stub", "new_id"))
        _ = f.takeEvents()
        try f.kernel.write("8086 100e", to: driverFile("pci-stub", "remove_id"))
        #expect(f.kernel.dynamicIDs(of: "pci-stub") == [])
        #expect(f.driver(Q35.e1000) == "pci-stub")
        #expect(f.takeEvents() == [])
    }

    @Test func `remove_id of an id that was never added is ENODEV`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno("8086 100e", to: driverFile("pci-stub", "remove_id")) == .operationNotSupportedByDevice)
        #expect(f.takeEvents() == [])
    }

    @Test func `loading a module binds the unbound devices it matches`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(summary(try f.kernel.unloadModule("e1000")) == ["unbind 0000:03:01.0"])
        #expect(!f.root.existsWithoutFollowing(PCIPaths.driver("e1000")))
        _ = f.takeEvents()
        #expect(summary(try f.kernel.loadModule("e1000")) == ["bind 0000:03:01.0 DRIVER=e1000"])
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == ["bind 0000:03:01.0 DRIVER=e1000"])
    }

    @Test func `a hot-plugged device is added, then claimed by the loaded driver whose table matches`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let spec = DeviceSpec(.literal("0000:03:03.0"), vendor: 0x8086, device: 0x100e, classCode: 0x020000,
                              group: 4, parent: Q35.pciBridge)
        let events = try f.kernel.hotplug(spec, probe: true)
        #expect(summary(events) == ["add 0000:03:03.0", "bind 0000:03:03.0 DRIVER=e1000"])
        #expect(events.first?.devpath == "/devices/pci0000:00/0000:00:02.0/0000:03:03.0")
        #expect(f.driver(spec.address) == "e1000")
        #expect(f.takeEvents() == summary(events))
    }

    @Test func `the bind happening releases the previous driver first`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(summary(try f.kernel.bind(Q35.e1000, driver: "vfio-pci")) == ["unbind 0000:03:01.0", "bind 0000:03:01.0 DRIVER=vfio-pci"])
        #expect(f.driver(Q35.e1000) == "vfio-pci")
    }

    @Test func `a module that is not loaded has no bind file`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("igb", "bind")) == .noSuchFileOrDirectory)
        #expect(f.takeEvents() == [])
    }

    @Test func `writing an attribute that has no store function is EACCES`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.writeErrno("0x8087", to: attribute(.vendor, Q35.e1000)) == .permissionDenied)
        #expect(try f.root.read(attribute(.vendor, Q35.e1000)) == "0x8086")
        #expect(f.writeErrno("1", to: attribute(.driverOverride, .literal("0000:09:00.0"))) == .noSuchFileOrDirectory)
    }

    @Test func `a device's own directory path works like its bus/pci/devices link`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: "devices/pci0000:00/0000:00:02.0/0000:03:01.0/driver_override")
        #expect(f.override(Q35.e1000) == "vfio-pci")
    }
}
