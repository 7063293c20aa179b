#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Copies the PCI part of a sysfs tree into a directory that ``SysfsRoot`` can read back, for bug reports and
/// tests: every PCI device directory (ids, class, `config`, `driver_override`, SR-IOV attributes, `driver`,
/// `iommu_group`, `physfn`, `virtfnN` links, network interfaces below it), `bus/pci/devices` and `drivers`,
/// `kernel/iommu_groups`, and `class/net`, `block`, `class/block`, `class/drm`, `class/graphics` with what they
/// point at (for host-use analysis).
///
/// Only attributes named in ``copiedAttributes`` are read: some sysfs files have side effects or block when
/// read (`vpd`, `rom`, `resourceN`), and write-only files (`bind`, `remove`, `reset`) are recreated empty.
/// Links are copied as links, with the kernel's relative targets.
public struct SysfsSnapshot {
    public let source: SysfsRoot
    public let destination: SysfsRoot
    /// What could not be copied (one line each); the snapshot is still written.
    public private(set) var problems: [String] = []
    /// How many PCI devices were copied.
    public private(set) var deviceCount = 0

    /// Attributes copied by content. Everything else that is a regular file is skipped.
    public static let copiedAttributes: Set<String> = [
        "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision", "config", "driver_override",
        "irq", "numa_node", "enable", "local_cpulist", "modalias", "boot_vga", "resource", "label", "index",
        "current_link_speed", "current_link_width", "max_link_speed", "max_link_width", "d3cold_allowed",
        "sriov_totalvfs", "sriov_numvfs", "sriov_drivers_autoprobe", "sriov_offset", "sriov_stride", "sriov_vf_device",
        // network interfaces
        "operstate", "flags", "address", "ifindex", "carrier", "type", "mtu",
        // block devices
        "dev", "size", "ro", "removable", "partition", "name", "uuid", "level",
    ]
    /// Write-only attributes recreated as empty files, so the copy has the shape of the original.
    public static let writeOnlyAttributes: Set<String> = [
        "bind", "unbind", "new_id", "remove_id", "remove", "reset", "rescan", "drivers_probe", "uevent",
    ]
    /// Subdirectories followed below network, block and display devices.
    static let followedSubdirectories: Set<String> = ["holders", "slaves", "dm", "md", "brif", "brport", "bonding", "queues"]

    public init(from source: SysfsRoot, to destination: SysfsRoot) {
        self.source = source
        self.destination = destination
    }

    /// Writes the snapshot. Throws only when the destination cannot be written or the source has no PCI bus.
    public mutating func write() throws(SysfsError) {
        try makeDirectory("")
        let addresses = try source.list(PCIPaths.devices).sorted()
        try makeDirectory(PCIPaths.devices)
        for name in addresses {
            copyLink("\(PCIPaths.devices)/\(name)")
            do {
                let directory = LinkTarget.resolve(try source.readLink("\(PCIPaths.devices)/\(name)"), from: PCIPaths.devices)
                try copyDeviceDirectory(directory)
                deviceCount += 1
            } catch {
                problems.append("\(PCIPaths.devices)/\(name): \(error)")
            }
        }
        try copyDrivers()
        try copyGroups()
        for classDirectory in ["class/net", "block", "class/block", "class/drm", "class/graphics"] {
            copyClass(classDirectory)
        }
        for file in [PCIPaths.driversProbe, PCIPaths.rescan] { createEmpty(file) }
    }

    /// A PCI device directory: its attributes and links, and the network interfaces below it.
    private mutating func copyDeviceDirectory(_ directory: String) throws(SysfsError) {
        try makeDirectory(directory)
        for entry in (try? source.list(directory)) ?? [] {
            let path = "\(directory)/\(entry)"
            switch kind(of: path) {
            case .link:
                if ["driver", "iommu_group", "physfn"].contains(entry) || entry.hasPrefix("virtfn") { copyLink(path) }
            case .file:
                copyFile(path, name: entry)
            case .directory:
                if entry == "net" {
                    for interface in (try? source.list(path)) ?? [] { copyTree("\(path)/\(interface)", depth: 2) }
                }
            case .other:
                continue
            }
        }
    }

    private mutating func copyDrivers() throws(SysfsError) {
        try makeDirectory(PCIPaths.drivers)
        for driver in ((try? source.list(PCIPaths.drivers)) ?? []).sorted() {
            let directory = PCIPaths.driver(driver)
            try makeDirectory(directory)
            for entry in (try? source.list(directory)) ?? [] {
                let path = "\(directory)/\(entry)"
                if PCIAddress(entry) != nil, kind(of: path) == .link { copyLink(path) }
                if Self.writeOnlyAttributes.contains(entry) { createEmpty(path) }
            }
        }
    }

    private mutating func copyGroups() throws(SysfsError) {
        try makeDirectory(PCIPaths.iommuGroups)
        for group in ((try? source.list(PCIPaths.iommuGroups)) ?? []).sorted() {
            let directory = "\(PCIPaths.iommuGroups)/\(group)"
            try makeDirectory("\(directory)/devices")
            copyFile("\(directory)/type", name: "type")
            for member in (try? source.list("\(directory)/devices")) ?? [] { copyLink("\(directory)/devices/\(member)") }
        }
    }

    /// `class/net`, `block`, …: each link, and the directory it points at (a few levels, known files only).
    private mutating func copyClass(_ classDirectory: String) {
        guard let entries = try? source.list(classDirectory) else { return }
        try? makeDirectory(classDirectory)
        for entry in entries.sorted() {
            let path = "\(classDirectory)/\(entry)"
            guard kind(of: path) == .link, let target = try? source.readLink(path) else { continue }
            copyLink(path)
            copyTree(LinkTarget.resolve(target, from: classDirectory), depth: 2)
        }
    }

    /// A directory with its known attributes, all its links, and the followed subdirectories and partitions.
    private mutating func copyTree(_ directory: String, depth: Int) {
        guard (try? makeDirectory(directory)) != nil else { return }
        for entry in (try? source.list(directory)) ?? [] {
            let path = "\(directory)/\(entry)"
            switch kind(of: path) {
            case .link: copyLink(path)
            case .file: copyFile(path, name: entry)
            case .directory:
                let isPartition = source.existsWithoutFollowing("\(path)/partition")
                if depth > 0 && (Self.followedSubdirectories.contains(entry) || isPartition) {
                    copyTree(path, depth: depth - 1)
                }
            case .other: continue
            }
        }
    }

    private mutating func copyFile(_ path: String, name: String) {
        if Self.writeOnlyAttributes.contains(name) { createEmpty(path); return }
        guard Self.copiedAttributes.contains(name) else { return }
        do {
            let bytes = try source.readBytes(path)
            try writeFile(path, bytes)
        } catch where error.errno == .invalidArgument || error.errno == .noData {
            // The attribute has no value now (`carrier` of an interface that is down): nothing to copy.
        } catch {
            problems.append("\(path): \(error)")
        }
    }

    private mutating func copyLink(_ path: String) {
        do {
            let target = try source.readLink(path)
            let full = destination.absolute(path)
            unlink(full)
            guard symlink(target, full) == 0 else {
                throw SysfsError(operation: "symlink", path: full, errno: Errno(rawValue: errno))
            }
        } catch {
            problems.append("\(path): \(error)")
        }
    }

    private mutating func createEmpty(_ path: String) {
        do { try writeFile(path, []) } catch { problems.append("\(path): \(error)") }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) throws(SysfsError) {
        let full = destination.absolute(path)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SysfsError(operation: "create", path: full, errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw SysfsError(operation: "write", path: full, errno: Errno(rawValue: errno)) }
            offset += written
        }
    }

    /// `mkdir -p` under the destination.
    private func makeDirectory(_ path: String) throws(SysfsError) {
        var current = destination.path
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SysfsError(operation: "mkdir", path: current, errno: Errno(rawValue: errno))
            }
        }
        if path.isEmpty && mkdir(destination.path, 0o755) != 0 && errno != EEXIST {
            throw SysfsError(operation: "mkdir", path: destination.path, errno: Errno(rawValue: errno))
        }
    }

    private enum Kind { case link, file, directory, other }

    private func kind(of path: String) -> Kind {
        var info = stat()
        guard lstat(source.absolute(path), &info) == 0 else { return .other }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: return .link
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }
}
