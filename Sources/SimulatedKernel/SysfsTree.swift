#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Sysfs
import Topology

/// A sysfs tree on disk laid out as Linux lays it out for PCI, with the kernel's own links:
///
/// - `devices/pci0000:00/…/ADDRESS/` with `vendor`, `device`, `class`, `config`, `driver_override`, …
/// - `bus/pci/devices/ADDRESS` → the device directory
/// - `bus/pci/drivers/NAME/ADDRESS` → the device directory, and the device's `driver` → `bus/pci/drivers/NAME`
/// - `kernel/iommu_groups/N/devices/ADDRESS` → the device directory, and the device's `iommu_group` → the group
/// - VFs beside their PF with `physfn` and the PF's `virtfnN`
/// - `class/net/NAME` and `block/NAME` links into the device that carries them
///
/// Only the layout lives here: ``SimulatedKernel`` gives writes their kernel meaning and emits events.
/// Not thread-safe on its own; the kernel serialises access.
public struct SysfsTree: Sendable {
    public let root: SysfsRoot

    /// Creates the top-level directories (an empty PCI bus) under `root`, which must be writable.
    public init(creatingAt root: SysfsRoot) throws {
        self.root = root
        for directory in ["devices", PCIPaths.devices, PCIPaths.drivers, PCIPaths.iommuGroups, "class/net", "block"] {
            try makeDirectory(directory)
        }
        try writeFile(PCIPaths.driversProbe, "")
        try writeFile(PCIPaths.rescan, "")
    }

    /// Opens an existing tree (built earlier, or a snapshot) for further changes.
    public init(existingAt root: SysfsRoot) {
        self.root = root
    }

    // MARK: Devices

    /// The directory of a device, relative to the root, following `bus/pci/devices/ADDRESS`.
    public func deviceDirectory(_ address: PCIAddress) throws -> String {
        let target = try root.readLink(PCIPaths.device(address))
        return LinkTarget.resolve(target, from: PCIPaths.devices)
    }

    /// Where a new device's directory goes: below its parent bridge, or on the root bus of its domain.
    public func newDeviceDirectory(for spec: DeviceSpec) throws -> String {
        if let parent = spec.parent {
            return try deviceDirectory(parent) + "/\(spec.address)"
        }
        return "devices/pci\(hex(spec.address.domain, width: 4)):\(hex(spec.address.bus, width: 2))/\(spec.address)"
    }

    /// Writes the device's directory and links (no driver bound yet: see ``linkDriver(_:to:)``).
    @discardableResult
    public func createDevice(_ spec: DeviceSpec, directory explicitDirectory: String? = nil) throws -> String {
        let directory = try explicitDirectory ?? newDeviceDirectory(for: spec)
        try makeDirectory(directory)
        try writeFile("\(directory)/vendor", "0x\(hex(spec.vendorID, width: 4))\n")
        try writeFile("\(directory)/device", "0x\(hex(spec.deviceID, width: 4))\n")
        try writeFile("\(directory)/subsystem_vendor", "0x\(hex(spec.subsystemVendorID, width: 4))\n")
        try writeFile("\(directory)/subsystem_device", "0x\(hex(spec.subsystemDeviceID, width: 4))\n")
        try writeFile("\(directory)/class", "0x\(hex(spec.classCode, width: 6))\n")
        try writeFile("\(directory)/revision", "0x\(hex(spec.revision, width: 2))\n")
        try writeFile("\(directory)/driver_override", "(null)\n")
        try writeFile("\(directory)/irq", "0\n")
        try writeFile("\(directory)/numa_node", "-1\n")
        try writeFile("\(directory)/enable", "1\n")
        try writeFile("\(directory)/remove", "")
        try writeFile("\(directory)/reset", "")
        let resourceLines = String(repeating: "0x0000000000000000 0x0000000000000000 0x0000000000000000\n", count: spec.isBridge ? 17 : 13)
        try writeFile("\(directory)/resource", resourceLines)
        try writeBytes("\(directory)/config", spec.configSpace)
        if spec.bootVGA { try writeFile("\(directory)/boot_vga", "1\n") }
        if let total = spec.sriovTotalVFs {
            try writeFile("\(directory)/sriov_totalvfs", "\(total)\n")
            try writeFile("\(directory)/sriov_numvfs", "0\n")
            try writeFile("\(directory)/sriov_drivers_autoprobe", "1\n")
            try writeFile("\(directory)/sriov_offset", "1\n")
            try writeFile("\(directory)/sriov_stride", "1\n")
            try writeFile("\(directory)/sriov_vf_device", "\(hex(spec.vfDeviceID ?? spec.deviceID, width: 4))\n")
        }
        try symlink(PCIPaths.device(spec.address), to: directory)
        if let group = spec.iommuGroup { try linkGroup(spec.address, directory: directory, group: group) }
        return directory
    }

    /// Removes the device's directory and every link to it (bus, driver, group, network interfaces, disks).
    public func deleteDevice(_ address: PCIAddress) throws {
        let directory = try deviceDirectory(address)
        if let driver = try root.linkName("\(directory)/driver") {
            try removeItem("\(PCIPaths.driver(driver))/\(address)")
        }
        if let group = try root.linkName("\(directory)/iommu_group") {
            try removeItem("\(PCIPaths.groupDevices(Int(group) ?? -1))/\(address)")
            if let left = try? root.list(PCIPaths.groupDevices(Int(group) ?? -1)), left.isEmpty {
                try removeItem("\(PCIPaths.iommuGroups)/\(group)")
            }
        }
        // Interfaces and disks the device carried go with it (`class/net/NAME`, `block/NAME`, `class/block/NAME`).
        for folder in ["class/net", "block", "class/block"] {
            for name in (try? root.list(folder)) ?? [] {
                guard let target = try? root.readLink("\(folder)/\(name)") else { continue }
                let resolved = LinkTarget.resolve(target, from: folder)
                if resolved == directory || resolved.hasPrefix(directory + "/") { try removeItem("\(folder)/\(name)") }
            }
        }
        try removeItem(PCIPaths.device(address))
        try removeItem(directory)
    }

    /// Adds `device` to `kernel/iommu_groups/N/devices` and points its `iommu_group` there.
    public func linkGroup(_ address: PCIAddress, directory: String, group: Int) throws {
        try makeDirectory(PCIPaths.groupDevices(group))
        if !root.existsWithoutFollowing("\(PCIPaths.iommuGroups)/\(group)/type") {
            try writeFile("\(PCIPaths.iommuGroups)/\(group)/type", "DMA\n")
        }
        try symlink("\(PCIPaths.groupDevices(group))/\(address)", to: directory)
        try symlink("\(directory)/iommu_group", to: "\(PCIPaths.iommuGroups)/\(group)")
    }

    // MARK: Drivers

    /// Creates `bus/pci/drivers/NAME` with `bind`, `unbind`, `new_id`, `remove_id` (a loaded module).
    public func registerDriver(_ name: String) throws {
        let directory = PCIPaths.driver(name)
        guard !root.existsWithoutFollowing(directory) else { return }
        try makeDirectory(directory)
        for file in ["bind", "unbind", "new_id", "remove_id", "uevent"] { try writeFile("\(directory)/\(file)", "") }
    }

    /// Whether `bus/pci/drivers/NAME` exists.
    public func isDriverRegistered(_ name: String) -> Bool {
        root.existsWithoutFollowing(PCIPaths.driver(name))
    }

    /// Binds: `driver` → `bus/pci/drivers/NAME` and `bus/pci/drivers/NAME/ADDRESS` → the device.
    public func linkDriver(_ address: PCIAddress, to driver: String) throws {
        try registerDriver(driver)
        let directory = try deviceDirectory(address)
        try symlink("\(directory)/driver", to: PCIPaths.driver(driver))
        try symlink("\(PCIPaths.driver(driver))/\(address)", to: directory)
    }

    /// Unbinds: removes both links. Returns the driver that was bound, `nil` if none was.
    @discardableResult
    public func unlinkDriver(_ address: PCIAddress) throws -> String? {
        let directory = try deviceDirectory(address)
        guard let driver = try root.linkName("\(directory)/driver") else { return nil }
        try removeItem("\(directory)/driver")
        try removeItem("\(PCIPaths.driver(driver))/\(address)")
        return driver
    }

    // MARK: SR-IOV links

    /// Links a VF to its PF: the VF's `physfn` and the PF's `virtfnINDEX`.
    public func linkVF(_ vf: PCIAddress, index: Int, to pf: PCIAddress) throws {
        let vfDirectory = try deviceDirectory(vf)
        let pfDirectory = try deviceDirectory(pf)
        try symlink("\(vfDirectory)/physfn", to: pfDirectory)
        try symlink("\(pfDirectory)/virtfn\(index)", to: vfDirectory)
    }

    /// Removes the PF's `virtfnINDEX` link.
    public func unlinkVF(index: Int, of pf: PCIAddress) throws {
        try removeItem("\(try deviceDirectory(pf))/virtfn\(index)")
    }

    // MARK: Host use

    /// A network interface carried by the device: `DEVICE/net/NAME/` with `operstate`, and `class/net/NAME` → it.
    public func addNetworkInterface(_ name: String, on address: PCIAddress, operstate: String = "up") throws {
        let directory = try deviceDirectory(address) + "/net/\(name)"
        try makeDirectory(directory)
        try writeFile("\(directory)/operstate", "\(operstate)\n")
        try writeFile("\(directory)/flags", operstate == "up" ? "0x1003\n" : "0x1002\n")
        try symlink("class/net/\(name)", to: directory)
    }

    /// A disk behind the device: `DEVICE/host0/…/block/NAME/` and `block/NAME` → it, with an empty `holders/`.
    public func addBlockDevice(_ name: String, on address: PCIAddress) throws {
        try addDisk(name, on: address, dev: "8:0", under: "ata1/host0/target0:0:0/0:0:0:0")
    }

    // MARK: Files

    /// Overwrites an attribute's content (as the kernel would show a new value).
    public func writeFile(_ relative: String, _ content: String) throws {
        try writeBytes(relative, Array(content.utf8))
    }

    /// Creates or truncates the file and writes `bytes` with plain `open(2)`/`write(2)`: no temporary file,
    /// no `fsync` (Foundation's `Data.write` does both, which made building a tree slow).
    public func writeBytes(_ relative: String, _ bytes: [UInt8]) throws {
        let path = root.absolute(relative)
        let fd = path.withCString { Glibc.open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw SysfsError(operation: "open", path: path, errno: Errno(rawValue: errno)) }
        defer { _ = Glibc.close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw SysfsError(operation: "write", path: path, errno: Errno(rawValue: errno))
            }
            offset += written
        }
    }

    public func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: root.absolute(relative), withIntermediateDirectories: true)
    }

    /// A relative symbolic link at `link` pointing to `target` (both relative to the root), as sysfs makes them.
    public func symlink(_ link: String, to target: String) throws {
        let depth = link.split(separator: "/").count - 1
        let relativeTarget = String(repeating: "../", count: depth) + target
        try? FileManager.default.removeItem(atPath: root.absolute(link))
        try FileManager.default.createSymbolicLink(atPath: root.absolute(link), withDestinationPath: relativeTarget)
    }

    public func removeItem(_ relative: String) throws {
        let path = root.absolute(relative)
        guard root.existsWithoutFollowing(relative) else { return }
        try FileManager.default.removeItem(atPath: path)
    }
}
