import Testing
import SimulatedKernel
import SystemPackage
import Sysfs

/// `driver_override_store` → `driver_set_override` (drivers/base/driver.c) and `driver_override_show`.
@Suite struct DriverOverrideTests {
    @Test func `driver_override reads (null) until set, then the name without its newline`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        #expect(f.override(Q35.e1000) == "(null)")
        try f.kernel.write("vfio-pci\n", to: attribute(.driverOverride, Q35.e1000))
        #expect(f.override(Q35.e1000) == "vfio-pci")
        #expect(f.takeEvents() == [])
    }

    @Test func `setting driver_override does not unbind the bound driver`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: ["", "\n"])
    func `an empty write or a lone newline clears driver_override`(value: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(value, to: attribute(.driverOverride, Q35.e1000))
        #expect(f.override(Q35.e1000) == "(null)")
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: ["vfio-pci\npci-stub\n", "vfio-pci\u{0}\u{0}\u{0}", "vfio-pci\u{0}pci-stub"])
    func `driver_override is cut at the first newline or NUL`(value: String) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write(value, to: attribute(.driverOverride, Q35.e1000))
        #expect(f.override(Q35.e1000) == "vfio-pci")
        #expect(f.takeEvents() == [])
    }

    @Test(arguments: [(4094, nil), (4095, Errno.invalidArgument)] as [(Int, Errno?)])
    func `driver_override of PAGE_SIZE - 1 bytes or more is EINVAL`(length: Int, errno: Errno?) throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let name = String(repeating: "x", count: length)
        #expect(f.writeErrno(name, to: attribute(.driverOverride, Q35.e1000)) == errno)
        #expect(f.override(Q35.e1000) == (errno == nil ? name : "(null)"))
        #expect(f.takeEvents() == [])
    }

    @Test func `driver_override none lets no driver bind, not even on probe`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        try f.kernel.write("none", to: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write(Q35.e1000.description, to: driverFile("e1000", "unbind"))
        try f.kernel.write(Q35.e1000.description, to: PCIPaths.driversProbe)
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("e1000", "bind")) == .operationNotSupportedByDevice)
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("vfio-pci", "bind")) == .operationNotSupportedByDevice)
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.takeEvents() == ["unbind 0000:03:01.0"])
    }
}
