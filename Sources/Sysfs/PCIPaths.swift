/// Where the kernel exposes PCI devices, drivers and IOMMU groups, relative to the sysfs root
/// (Documentation/ABI/testing/sysfs-bus-pci, sysfs-kernel-iommu_groups).
public enum PCIPaths {
    /// `bus/pci/devices`: one link per function, named by its address.
    public static let devices = "bus/pci/devices"
    /// `bus/pci/drivers`: one directory per PCI driver, with `bind`, `unbind`, `new_id`, `remove_id`.
    public static let drivers = "bus/pci/drivers"
    /// `bus/pci/drivers_probe`: writing an address asks the kernel to probe drivers for it.
    public static let driversProbe = "bus/pci/drivers_probe"
    /// `bus/pci/rescan`: writing 1 rescans every bus.
    public static let rescan = "bus/pci/rescan"
    /// `kernel/iommu_groups`: one directory per group, with `devices/` links to its members.
    public static let iommuGroups = "kernel/iommu_groups"
    /// The SEQNUM of the last uevent the kernel sent (`uevent_seqnum_show`).
    public static let ueventSeqnum = "kernel/uevent_seqnum"

    /// `bus/pci/devices/ADDRESS`.
    public static func device(_ address: PCIAddress) -> String { devices + "/" + address.description }

    /// `bus/pci/devices/ADDRESS/ATTRIBUTE`.
    public static func attribute(_ attribute: PCIAttribute, of address: PCIAddress) -> String {
        "\(devices)/\(address)/\(attribute.rawValue)"
    }

    /// `bus/pci/drivers/DRIVER`.
    public static func driver(_ name: String) -> String { "\(drivers)/\(name)" }

    /// `kernel/iommu_groups/N/devices`.
    public static func groupDevices(_ group: Int) -> String { "\(iommuGroups)/\(group)/devices" }
}

/// The files in a PCI device's sysfs directory that the agent reads or writes.
public enum PCIAttribute: String, Sendable, CaseIterable {
    case vendor, device, subsystemVendor = "subsystem_vendor", subsystemDevice = "subsystem_device"
    case `class`, revision, config
    /// Link to `bus/pci/drivers/NAME` while a driver is bound.
    case driver
    /// `(null)` when unset; the only driver allowed to bind when set (`none` forbids all).
    case driverOverride = "driver_override"
    /// Link to `kernel/iommu_groups/N`; absent when no IOMMU is enabled.
    case iommuGroup = "iommu_group"
    /// On a VF: link to its PF.
    case physfn
    case sriovTotalVFs = "sriov_totalvfs"
    case sriovNumVFs = "sriov_numvfs"
    case sriovDriversAutoprobe = "sriov_drivers_autoprobe"
    /// Writing 1 removes the device.
    case remove
    /// Writing 1 resets the function.
    case reset
    /// `-1` when the firmware names no NUMA node.
    case numaNode = "numa_node"
    /// `1` on the VGA device the firmware booted with.
    case bootVGA = "boot_vga"
}
