import SystemPackage
import Sysfs

/// One entry of a PCI driver's id table or of its dynamic ids (`struct pci_device_id`): vendor, device,
/// subsystem ids (``PCIDeviceID/any`` matches every value) and a class with a mask.
///
/// Matching is `pci_match_one_device` (drivers/pci/pci.h): each id equals the device's or is `PCI_ANY_ID`,
/// and `!((id->class ^ dev->class) & id->class_mask)`.
public struct PCIDeviceID: Sendable, Hashable, CustomStringConvertible {
    /// `PCI_ANY_ID` (`~0`).
    public static let any: UInt32 = 0xFFFF_FFFF

    /// Vendor and device ids, ``PCIDeviceID/any`` for any.
    public var vendor: UInt32
    public var device: UInt32
    /// Subsystem vendor and device ids, ``PCIDeviceID/any`` for any.
    public var subvendor: UInt32
    public var subdevice: UInt32
    /// 24-bit class code, compared under `classMask` (a mask of 0 matches every class).
    public var classCode: UInt32
    public var classMask: UInt32

    public init(vendor: UInt32, device: UInt32 = PCIDeviceID.any, subvendor: UInt32 = PCIDeviceID.any,
                subdevice: UInt32 = PCIDeviceID.any, classCode: UInt32 = 0, classMask: UInt32 = 0) {
        self.vendor = vendor
        self.device = device
        self.subvendor = subvendor
        self.subdevice = subdevice
        self.classCode = classCode
        self.classMask = classMask
    }

    /// `PCI_DEVICE_CLASS(class, ~0)`: any vendor and device of exactly this 24-bit class.
    public static func `class`(_ classCode: UInt32, mask: UInt32 = 0xFF_FFFF) -> PCIDeviceID {
        PCIDeviceID(vendor: any, classCode: classCode, classMask: mask)
    }

    /// `pci_match_one_device`.
    public func matches(_ identity: MatchIdentity) -> Bool {
        (vendor == Self.any || vendor == UInt32(identity.vendor))
            && (device == Self.any || device == UInt32(identity.device))
            && (subvendor == Self.any || subvendor == UInt32(identity.subvendor))
            && (subdevice == Self.any || subdevice == UInt32(identity.subdevice))
            && (classCode ^ identity.classCode) & classMask == 0
    }

    public var description: String {
        func field(_ value: UInt32) -> String { value == Self.any ? "*" : hex(value, width: 4) }
        var text = "\(field(vendor)):\(field(device))"
        if classMask != 0 { text += " class \(hex(classCode, width: 6))/\(hex(classMask, width: 6))" }
        return text
    }
}

/// The ids a driver matches a device by: what `vendor`, `device`, `subsystem_*` and `class` show.
public struct MatchIdentity: Sendable, Hashable {
    /// `vendor`, `device`, `subsystem_vendor`, `subsystem_device` and the 24-bit `class`.
    public var vendor: UInt16
    public var device: UInt16
    public var subvendor: UInt16
    public var subdevice: UInt16
    public var classCode: UInt32

    public init(vendor: UInt16, device: UInt16, subvendor: UInt16 = 0, subdevice: UInt16 = 0, classCode: UInt32 = 0) {
        self.vendor = vendor
        self.device = device
        self.subvendor = subvendor
        self.subdevice = subdevice
        self.classCode = classCode
    }
}

/// What the simulated kernel knows of a PCI driver (`struct pci_driver`): its name, static id table,
/// whether it implements `sriov_configure`, whether it manages DMA itself (`driver_managed_dma`), and the
/// devices its `probe()` turns down although its table matches them.
public struct SimulatedDriver: Sendable, Hashable {
    /// The name under `bus/pci/drivers` and in `DRIVER=`.
    public var name: String
    /// The static `id_table`. Empty for `vfio-pci` and `pci-stub`, which bind only through `driver_override`
    /// or `new_id` (vfio-pci's table holds only `override_only` entries).
    public var idTable: [PCIDeviceID]
    /// Whether `sriov_numvfs` can be written while this driver is bound to the PF (`pdrv->sriov_configure`).
    public var supportsSRIOVConfigure: Bool
    /// `driver_managed_dma`: the driver does not use the kernel's default DMA domain, so it may bind while a
    /// VFIO user owns the group (vfio-pci, pci-stub, pcieport). Everything else is a DMA host driver.
    public var managesDMA: Bool
    /// Devices whose probe fails although the table (or `driver_override`) matched: pcieport turns down the
    /// PCIe-to-PCI bridge (`pcie_portdrv_probe` only takes ports: `ENODEV`), vfio-pci every bridge
    /// (`vfio_pci_core_register_device` takes header type 0 only: `EINVAL`).
    public var probeRejects: [PCIDeviceID]
    /// The error such a probe fails with; an explicit `bind` returns it.
    public var probeRejectionErrno: Errno
    /// Whether the probe refuses a PF whose VFs are enabled with `EBUSY` (vfio-pci: "Cannot bind to PF with
    /// SR-IOV enabled", `vfio_pci_core_register_device`).
    public var refusesPFWithVFs: Bool

    public init(_ name: String, ids: [PCIDeviceID] = [], supportsSRIOVConfigure: Bool = false, managesDMA: Bool = false,
                probeRejects: [PCIDeviceID] = [], probeRejectionErrno: Errno = .operationNotSupportedByDevice,
                refusesPFWithVFs: Bool = false) {
        self.name = name
        self.idTable = ids
        self.supportsSRIOVConfigure = supportsSRIOVConfigure
        self.managesDMA = managesDMA
        self.probeRejects = probeRejects
        self.probeRejectionErrno = probeRejectionErrno
        self.refusesPFWithVFs = refusesPFWithVFs
    }
}

/// The drivers the simulated kernel can load, by name, in the order the bus tries them.
public struct DriverCatalogue: Sendable {
    /// The drivers, in the order the bus offers a device to them.
    public private(set) var drivers: [SimulatedDriver]

    public init(_ drivers: [SimulatedDriver]) {
        self.drivers = drivers
    }

    /// The driver named `name`; a driver the catalogue does not know has no ids and is a DMA host driver
    /// (it binds only through `driver_override` or `new_id`).
    public func driver(named name: String) -> SimulatedDriver {
        drivers.first { $0.name == name } ?? SimulatedDriver(name)
    }

    /// Adds or replaces a driver.
    public mutating func add(_ driver: SimulatedDriver) {
        if let index = drivers.firstIndex(where: { $0.name == driver.name }) {
            drivers[index] = driver
        } else {
            drivers.append(driver)
        }
    }

    /// The drivers of the q35 example host, with the id tables Linux gives them (abridged to what the
    /// examples hold):
    /// - `e1000` 8086:100e, `e1000e` 8086:10d3, `virtio-pci` 1af4:*, `lpc_ich` 8086:2918,
    ///   `i801_smbus` 8086:2930, `bochs-drm` 1234:1111
    /// - `nvme` class 010802 (with `sriov_configure`), `ahci` class 010601
    /// - `pcieport` class 060400, turning down the PCIe-to-PCI bridge 1b36:000e; manages DMA
    /// - `pci-stub` and `vfio-pci`: no ids, manage DMA; vfio-pci's `sriov_configure` refuses with `-ENOENT`
    ///   unless loaded with `enable_sriov=1`, so it is modelled as not supporting it; vfio-pci's probe refuses
    ///   bridges (`EINVAL`) and PFs with VFs enabled (`EBUSY`).
    public static let linux = DriverCatalogue([
        SimulatedDriver("ahci", ids: [.class(0x010601)]),
        SimulatedDriver("bochs-drm", ids: [PCIDeviceID(vendor: 0x1234, device: 0x1111)]),
        SimulatedDriver("e1000", ids: [PCIDeviceID(vendor: 0x8086, device: 0x100e)]),
        SimulatedDriver("e1000e", ids: [PCIDeviceID(vendor: 0x8086, device: 0x10d3)]),
        SimulatedDriver("i801_smbus", ids: [PCIDeviceID(vendor: 0x8086, device: 0x2930)]),
        SimulatedDriver("lpc_ich", ids: [PCIDeviceID(vendor: 0x8086, device: 0x2918)]),
        SimulatedDriver("nvme", ids: [.class(0x010802)], supportsSRIOVConfigure: true),
        SimulatedDriver("pci-stub", managesDMA: true),
        SimulatedDriver("pcieport", ids: [.class(0x060400)], managesDMA: true,
                        probeRejects: [PCIDeviceID(vendor: 0x1b36, device: 0x000e)]),
        SimulatedDriver("vfio-pci", managesDMA: true,
                        probeRejects: [.class(0x060400, mask: 0xFFFF00), .class(0x060900, mask: 0xFFFF00)],
                        probeRejectionErrno: .invalidArgument, refusesPFWithVFs: true),
        SimulatedDriver("virtio-pci", ids: [PCIDeviceID(vendor: 0x1af4)]),
    ])
}
