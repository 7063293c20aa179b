import Sysfs

/// What a generated sysfs tree holds for one PCI function.
public struct DeviceSpec: Sendable, Hashable {
    public var address: PCIAddress
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var subsystemVendorID: UInt16
    public var subsystemDeviceID: UInt16
    /// 24-bit class code; class `0x0604xx` makes a bridge (header type 1).
    public var classCode: UInt32
    public var revision: UInt8
    /// Driver bound at creation, `nil` for none.
    public var driver: String?
    /// Group number, `nil` when the simulated host has no IOMMU.
    public var iommuGroup: Int?
    /// The bridge this function sits behind; `nil` for the root bus.
    public var parent: PCIAddress?
    /// The secondary bus behind a bridge (written to its config space).
    public var secondaryBus: UInt8?
    /// `sriov_totalvfs` when the function is an SR-IOV PF.
    public var sriovTotalVFs: Int?
    /// Device id of the PF's VFs (`sriov_vf_device`).
    public var vfDeviceID: UInt16?
    /// `boot_vga` for display controllers.
    public var bootVGA: Bool

    public init(
        _ address: PCIAddress, vendor: UInt16, device: UInt16, subsystemVendor: UInt16? = nil, subsystemDevice: UInt16? = nil,
        classCode: UInt32, revision: UInt8 = 0, driver: String? = nil, group: Int? = nil, parent: PCIAddress? = nil,
        secondaryBus: UInt8? = nil, sriovTotalVFs: Int? = nil, vfDeviceID: UInt16? = nil, bootVGA: Bool = false
    ) {
        self.address = address
        self.vendorID = vendor
        self.deviceID = device
        self.subsystemVendorID = subsystemVendor ?? vendor
        self.subsystemDeviceID = subsystemDevice ?? 0x1100
        self.classCode = classCode
        self.revision = revision
        self.driver = driver
        self.iommuGroup = group
        self.parent = parent
        self.secondaryBus = secondaryBus
        self.sriovTotalVFs = sriovTotalVFs
        self.vfDeviceID = vfDeviceID
        self.bootVGA = bootVGA
    }

    public var isBridge: Bool { classCode >> 8 == 0x0604 || classCode >> 8 == 0x0609 }

    /// A 256-byte type 0 or type 1 configuration header with ids, class, header type and bus numbers
    /// (what `lspci` decodes when reading the tree through `-O sysfs.path`).
    public var configSpace: [UInt8] {
        var config = [UInt8](repeating: 0, count: 256)
        func put16(_ value: UInt16, at offset: Int) {
            config[offset] = UInt8(value & 0xFF)
            config[offset + 1] = UInt8(value >> 8)
        }
        put16(vendorID, at: 0x00)
        put16(deviceID, at: 0x02)
        put16(0x0007, at: 0x04) // command: I/O, memory, bus master
        config[0x08] = revision
        config[0x09] = UInt8(classCode & 0xFF)
        config[0x0A] = UInt8((classCode >> 8) & 0xFF)
        config[0x0B] = UInt8((classCode >> 16) & 0xFF)
        if isBridge {
            config[0x0E] = 0x01
            config[0x18] = address.bus
            config[0x19] = secondaryBus ?? 0
            config[0x1A] = secondaryBus ?? 0
        } else {
            config[0x0E] = address.function == 0 ? 0x80 : 0x00
            put16(subsystemVendorID, at: 0x2C)
            put16(subsystemDeviceID, at: 0x2E)
        }
        return config
    }
}

extension PCIAddress {
    /// `PCIAddress("0000:03:01.0")!` for literals in examples and tests; a malformed literal is a programmer error.
    public static func literal(_ text: String) -> PCIAddress {
        guard let address = PCIAddress(text) else { preconditionFailure("malformed PCI address literal \(text)") }
        return address
    }
}
