import Sysfs

/// Built-in simulated hosts, for `simulate`, the README's first command and tests.
public enum ExampleHosts {
    /// A q35 host like the real-kernel rig's guest (see REAL-KERNEL-RIG.md):
    /// - group 0: host bridge 00:00.0
    /// - group 1: boot VGA 00:01.0 (bochs-drm)
    /// - group 2: root port 00:1c.0 (pcieport) with an e1000e at 01:00.0 behind it
    /// - group 3: root port 00:1c.1 with an SR-IOV NVMe PF at 02:00.0 (up to 4 VFs)
    /// - group 4: PCIe-to-PCI bridge 00:02.0 with an e1000 at 03:01.0 and a virtio-net at 03:02.0 behind it
    /// - group 5: the chipset: LPC 00:1f.0, AHCI SATA 00:1f.2 (the host's disk `sda`), SMBus 00:1f.3
    public static let q35: [DeviceSpec] = [
        DeviceSpec(.literal("0000:00:00.0"), vendor: 0x8086, device: 0x29c0, classCode: 0x060000, group: 0),
        DeviceSpec(.literal("0000:00:01.0"), vendor: 0x1234, device: 0x1111, classCode: 0x030000, revision: 2,
                   driver: "bochs-drm", group: 1, bootVGA: true),
        DeviceSpec(.literal("0000:00:1c.0"), vendor: 0x1b36, device: 0x000c, classCode: 0x060400,
                   driver: "pcieport", group: 2, secondaryBus: 0x01),
        DeviceSpec(.literal("0000:01:00.0"), vendor: 0x8086, device: 0x10d3, classCode: 0x020000,
                   driver: "e1000e", group: 2, parent: .literal("0000:00:1c.0")),
        DeviceSpec(.literal("0000:00:1c.1"), vendor: 0x1b36, device: 0x000c, classCode: 0x060400,
                   driver: "pcieport", group: 3, secondaryBus: 0x02),
        DeviceSpec(.literal("0000:02:00.0"), vendor: 0x1b36, device: 0x0010, classCode: 0x010802, revision: 2,
                   driver: "nvme", group: 3, parent: .literal("0000:00:1c.1"), sriovTotalVFs: 4),
        DeviceSpec(.literal("0000:00:02.0"), vendor: 0x1b36, device: 0x000e, classCode: 0x060400,
                   group: 4, secondaryBus: 0x03),
        DeviceSpec(.literal("0000:03:01.0"), vendor: 0x8086, device: 0x100e, classCode: 0x020000, revision: 3,
                   driver: "e1000", group: 4, parent: .literal("0000:00:02.0")),
        DeviceSpec(.literal("0000:03:02.0"), vendor: 0x1af4, device: 0x1000, classCode: 0x020000,
                   driver: "virtio-pci", group: 4, parent: .literal("0000:00:02.0")),
        DeviceSpec(.literal("0000:00:1f.0"), vendor: 0x8086, device: 0x2918, classCode: 0x060100, revision: 2,
                   driver: "lpc_ich", group: 5),
        DeviceSpec(.literal("0000:00:1f.2"), vendor: 0x8086, device: 0x2922, classCode: 0x010601, revision: 2,
                   driver: "ahci", group: 5),
        DeviceSpec(.literal("0000:00:1f.3"), vendor: 0x8086, device: 0x2930, classCode: 0x0c0500, revision: 2,
                   driver: "i801_smbus", group: 5),
    ]

    /// The same host booted without an IOMMU: no group links at all.
    public static var q35WithoutIOMMU: [DeviceSpec] {
        q35.map { var spec = $0; spec.iommuGroup = nil; return spec }
    }

    /// Writes `specs` into a new tree at `root`, binding each device's driver, and adds the q35 host's
    /// network interfaces and disk when those devices are present.
    @discardableResult
    public static func build(_ specs: [DeviceSpec], at root: SysfsRoot) throws -> SysfsTree {
        let tree = try SysfsTree(creatingAt: root)
        for driver in ["vfio-pci", "pci-stub", "pcieport", "e1000", "e1000e", "nvme", "virtio-pci", "ahci"] {
            try tree.registerDriver(driver)
        }
        for spec in specs {
            try tree.createDevice(spec)
            if let driver = spec.driver { try tree.linkDriver(spec.address, to: driver) }
        }
        let addresses = Set(specs.map(\.address))
        if addresses.contains(.literal("0000:00:1f.2")) { try tree.addBlockDevice("sda", on: .literal("0000:00:1f.2")) }
        if addresses.contains(.literal("0000:03:02.0")) {
            try tree.addNetworkInterface("enp3s2", on: .literal("0000:03:02.0"), operstate: "up")
        }
        if addresses.contains(.literal("0000:03:01.0")) {
            // Every NIC on a network driver has an interface: one without counts as moved to another namespace.
            try tree.addNetworkInterface("enp3s1", on: .literal("0000:03:01.0"), operstate: "down")
        }
        if addresses.contains(.literal("0000:01:00.0")) {
            try tree.addNetworkInterface("enp1s0", on: .literal("0000:01:00.0"), operstate: "down")
        }
        return tree
    }

    /// A large generated host for benchmarks: `groups` groups of `perGroup` endpoints, each group behind its own
    /// root port (the port counts as one of the `perGroup` members), drivers alternating between host drivers and vfio-pci.
    public static func generated(groups: Int, perGroup: Int) -> [DeviceSpec] {
        precondition(groups > 0 && perGroup > 0 && perGroup <= 257)
        var specs: [DeviceSpec] = []
        let drivers = ["e1000e", "nvme", "vfio-pci", nil]
        for group in 0..<groups {
            // 255 root ports per domain (bus 0), each with its endpoints on its own secondary bus 1...255.
            let domain = UInt32(0x10 + group / 255)
            let index = group % 255
            let port = PCIAddress(domain: domain, bus: 0, slot: UInt8(index / 8), function: UInt8(index % 8))
            let secondary = UInt8(index + 1)
            specs.append(DeviceSpec(port, vendor: 0x8086, device: 0xa110, classCode: 0x060400,
                                    driver: "pcieport", group: group, secondaryBus: secondary))
            for member in 0..<(perGroup - 1) {
                let address = PCIAddress(domain: domain, bus: secondary, slot: UInt8(member / 8), function: UInt8(member % 8))
                let driver = drivers[(group + member) % drivers.count]
                specs.append(DeviceSpec(address, vendor: 0x8086, device: 0x1520 + UInt16(member), classCode: 0x020000,
                                        driver: driver, group: group, parent: port))
            }
        }
        return specs
    }
}
