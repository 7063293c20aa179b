import Dispatch
import Testing
import SimulatedKernel
import SystemPackage
import Sysfs

/// Faults injected on writes: errors, hangs, devices that vanish around a write.
@Suite struct WriteFaultTests {
    @Test func `an injected errno fails the next write once and changes nothing`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let path = driverFile("e1000", "unbind")
        f.kernel.inject(.fail(.ioError), on: path)
        #expect(f.writeErrno(Q35.e1000.description, to: path) == .ioError)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
        #expect(f.writeErrno(Q35.e1000.description, to: path) == nil)
        #expect(f.takeEvents() == ["unbind 0000:03:01.0"])
        #expect(f.kernel.takeWrites().map(\.errno) == [.ioError, nil])
    }

    @Test func `an always fault fails every write until the faults are cleared`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let path = attribute(.driverOverride, Q35.e1000)
        f.kernel.inject(.fail(.resourceBusy), on: "/" + path + "/", .always)
        #expect(f.writeErrno("vfio-pci", to: path) == .resourceBusy)
        #expect(f.writeErrno("vfio-pci", to: path) == .resourceBusy)
        #expect(f.override(Q35.e1000) == "(null)")
        f.kernel.clearFaults()
        #expect(f.writeErrno("vfio-pci", to: path) == nil)
        #expect(f.override(Q35.e1000) == "vfio-pci")
    }

    @Test func `a hanging unbind blocks the writer until released, then takes effect`() async throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let gate = WriteGate()
        let path = driverFile("e1000", "unbind")
        f.kernel.inject(.hang(gate), on: path)
        let kernel = f.kernel
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? kernel.write(Q35.e1000.description, to: path)
            finished.signal()
        }
        var waited = 0
        while !gate.isHoldingAWriter && waited < 5_000 {
            try await Task.sleep(for: .milliseconds(2))
            waited += 2
        }
        #expect(gate.isHoldingAWriter)
        #expect(finished.wait(timeout: .now() + .milliseconds(50)) == .timedOut)
        #expect(f.driver(Q35.e1000) == "e1000")
        #expect(f.takeEvents() == [])
        gate.release()
        #expect(finished.wait(timeout: .now() + .seconds(5)) == .success)
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.takeEvents() == ["unbind 0000:03:01.0"])
    }

    @Test func `a hang with a timeout delays the write by that long, then lets it through`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        let path = driverFile("e1000", "unbind")
        f.kernel.inject(.hang(WriteGate(timeout: .milliseconds(100))), on: path)
        let clock = ContinuousClock()
        let elapsed = try clock.measure { try f.kernel.write(Q35.e1000.description, to: path) }
        #expect(elapsed >= .milliseconds(100))
        #expect(f.driver(Q35.e1000) == nil)
        #expect(f.takeEvents() == ["unbind 0000:03:01.0"])
    }

    @Test func `a device removed right before the write makes the write fail as for a missing device`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        f.kernel.inject(.removeDeviceBefore(Q35.e1000), on: driverFile("e1000", "unbind"))
        #expect(f.writeErrno(Q35.e1000.description, to: driverFile("e1000", "unbind")) == .operationNotSupportedByDevice)
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "remove 0000:03:01.0"])
        f.kernel.inject(.removeDeviceBefore(Q35.virtio), on: attribute(.driverOverride, Q35.virtio))
        #expect(f.writeErrno("vfio-pci", to: attribute(.driverOverride, Q35.virtio)) == .noSuchFileOrDirectory)
        #expect(f.takeEvents() == ["unbind 0000:03:02.0", "remove 0000:03:02.0"])
    }

    @Test func `a device removed right after the write: the write succeeds, then the device is gone`() throws {
        let f = try Fixture(); defer { f.cleanUp() }
        f.kernel.inject(.removeDeviceAfter(Q35.e1000), on: attribute(.driverOverride, Q35.e1000))
        try f.kernel.write("vfio-pci", to: attribute(.driverOverride, Q35.e1000))
        #expect(!f.isPresent(Q35.e1000))
        #expect(f.takeEvents() == ["unbind 0000:03:01.0", "remove 0000:03:01.0"])
    }
}
