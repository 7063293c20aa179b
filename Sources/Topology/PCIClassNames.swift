import Sysfs

/// Short names of PCI classes, as in the PCI Code and ID Assignment Specification (and pci.ids).
public enum PCIClassNames {
    /// The name of the subclass when known, else of the base class, else `Class XXYY`.
    public static func name(of classCode: UInt32) -> String {
        let base = UInt8((classCode >> 16) & 0xFF)
        let sub = UInt8((classCode >> 8) & 0xFF)
        if let name = subclassNames[UInt16(base) << 8 | UInt16(sub)] { return name }
        if let name = baseNames[base] { return name }
        return "Class \(hex(base, width: 2))\(hex(sub, width: 2))"
    }

    static let baseNames: [UInt8: String] = [
        0x00: "Unclassified device", 0x01: "Mass storage controller", 0x02: "Network controller",
        0x03: "Display controller", 0x04: "Multimedia controller", 0x05: "Memory controller", 0x06: "Bridge",
        0x07: "Communication controller", 0x08: "Generic system peripheral", 0x09: "Input device controller",
        0x0a: "Docking station", 0x0b: "Processor", 0x0c: "Serial bus controller", 0x0d: "Wireless controller",
        0x0e: "Intelligent controller", 0x0f: "Satellite communications controller", 0x10: "Encryption controller",
        0x11: "Signal processing controller", 0x12: "Processing accelerators", 0x13: "Non-Essential Instrumentation",
        0x40: "Coprocessor", 0xff: "Unassigned class",
    ]

    static let subclassNames: [UInt16: String] = [
        0x0000: "Non-VGA unclassified device", 0x0001: "VGA compatible unclassified device",
        0x0100: "SCSI storage controller", 0x0101: "IDE interface", 0x0102: "Floppy disk controller",
        0x0104: "RAID bus controller", 0x0105: "ATA controller", 0x0106: "SATA controller",
        0x0107: "Serial Attached SCSI controller", 0x0108: "Non-Volatile memory controller",
        0x0180: "Mass storage controller",
        0x0200: "Ethernet controller", 0x0201: "Token ring network controller", 0x0202: "FDDI network controller",
        0x0203: "ATM network controller", 0x0207: "Infiniband controller", 0x0208: "Fabric controller",
        0x0280: "Network controller",
        0x0300: "VGA compatible controller", 0x0301: "XGA compatible controller", 0x0302: "3D controller",
        0x0380: "Display controller",
        0x0400: "Multimedia video controller", 0x0401: "Multimedia audio controller",
        0x0403: "Audio device", 0x0480: "Multimedia controller",
        0x0500: "RAM memory", 0x0501: "FLASH memory",
        0x0600: "Host bridge", 0x0601: "ISA bridge", 0x0602: "EISA bridge", 0x0604: "PCI bridge",
        0x0605: "PCMCIA bridge", 0x0607: "CardBus bridge", 0x0609: "Semi-transparent PCI-to-PCI bridge",
        0x0680: "Bridge",
        0x0700: "Serial controller", 0x0780: "Communication controller",
        0x0800: "PIC", 0x0801: "DMA controller", 0x0802: "Timer", 0x0805: "SD Host controller",
        0x0806: "IOMMU", 0x0880: "System peripheral",
        0x0c03: "USB controller", 0x0c05: "SMBus", 0x0c80: "Serial bus controller",
        0x0d11: "Bluetooth", 0x0d80: "Network controller", 0x1000: "Network and computing encryption device",
        0x1200: "Processing accelerators",
    ]
}
