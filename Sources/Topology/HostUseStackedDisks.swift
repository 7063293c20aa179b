import Sysfs

/// Block devices that belong to something mounted without leaving `holders` links: the devices of a multi-device
/// btrfs, by kernel name (`sdb`, `dm-3`, `nvme0n1p2`).
struct StackedMembers {
    struct Membership {
        /// `btrfs filesystem 1c5e… (label data), which backs /data (mounted from /dev/sda)`.
        var message: String
        var sources: [String]
    }

    var btrfs: [String: [Membership]]
}

extension HostUseCollector {
    /// The devices of every btrfs filesystem the kernel has open: `fs/btrfs/UUID/devices/NAME` (a link to the block
    /// device; the kernel adds `fs/btrfs/UUID` when the filesystem is mounted and removes it at unmount). mountinfo
    /// names only one of them (`/dev/sda` with an anonymous `0:NN` device), so the others are found here.
    func btrfsMembers(mounts: [ProcFiles.Mount]) -> [String: [StackedMembers.Membership]] {
        var result: [String: [StackedMembers.Membership]] = [:]
        for uuid in ((try? sysfs.list("fs/btrfs")) ?? []).sorted() {
            guard let devices = try? sysfs.list("fs/btrfs/\(uuid)/devices"), !devices.isEmpty else { continue }
            let label = (try? sysfs.read("fs/btrfs/\(uuid)/label")).flatMap { $0.isEmpty ? nil : $0 }
            // Mount sources the kernel shows for this filesystem: any of its devices, by kernel or mapper name.
            var names = Set<String>()
            for device in devices {
                names.insert("/dev/\(device)")
                if let dmName = try? sysfs.read("block/\(device)/dm/name") { names.insert("/dev/mapper/\(dmName)") }
            }
            let mounted = mounts.filter { $0.fsType == "btrfs" && names.contains($0.source) }
            var message = "btrfs filesystem \(uuid)\(label.map { " (label \($0))" } ?? "") with \(devices.count) device\(devices.count == 1 ? "" : "s") (\(devices.sorted().joined(separator: ", ")))"
            if mounted.isEmpty {
                message += ", which the kernel has open"
            } else {
                let places = mounted.prefix(3).map(\.place).joined(separator: ", ")
                message += ", which backs \(places)\(mounted.count > 3 ? " and \(mounted.count - 3) more" : "") (mounted from \(mounted[0].source))"
            }
            let membership = StackedMembers.Membership(
                message: message, sources: ["fs/btrfs/\(uuid)/devices"] + (mounted.isEmpty ? [] : [mounted[0].file]))
            for device in devices { result[device, default: []].append(membership) }
        }
        return result
    }

    /// The PCI devices that carry disk `name` (`block/NAME`): the function in its resolved path; for an NVMe namespace
    /// under a subsystem node (native multipath: `devices/virtual/nvme-subsystem/nvme-subsysN/nvmeNnM`, no PCI
    /// address in the path), the controllers of its paths (``nvmeSubsystemCarriers(ofDisk:resolved:)``).
    mutating func carriers(ofDisk name: String) -> [(device: PCIAddress, via: String?)] {
        if let device = pciDevice(behindLink: "block/\(name)") { return [(device, nil)] }
        guard let resolved = Self.realPath(sysfs.absolute("block/\(name)")), resolved.contains("/nvme-subsystem/") else { return [] }
        return nvmeSubsystemCarriers(ofDisk: name, resolved: resolved)
    }

    /// The controllers of an NVMe namespace head `nvmeSnN` of subsystem `nvme-subsysS`, in this order of evidence:
    /// - `block/nvmeSnN/multipath/*`: links to the namespace's path devices (`nvmeScCnN`) under each controller
    ///   (kernels that have them);
    /// - the path devices themselves, `nvmeScCnN` in `class/nvme/nvmeC/` (hidden disks, under the controller);
    /// - failing both, every controller of the subsystem: `nvme-subsysS/nvmeC`, links to the controllers.
    /// A controller is `…/DDDD:BB:SS.F/nvme/nvmeC`, so the PCI function is in its resolved path.
    mutating func nvmeSubsystemCarriers(ofDisk name: String, resolved: String) -> [(device: PCIAddress, via: String?)] {
        let components = resolved.split(separator: "/").map(String.init)
        guard let index = components.firstIndex(of: "nvme-subsystem"), index + 1 < components.count else { return [] }
        let subsystem = components[index + 1]
        var found: [(device: PCIAddress, via: String?)] = []
        func append(_ device: PCIAddress, _ via: String) {
            if !found.contains(where: { $0.device == device }) { found.append((device, via)) }
        }
        for path in ((try? sysfs.list("block/\(name)/multipath")) ?? []).sorted() {
            if let device = pciDevice(behindLink: "block/\(name)/multipath/\(path)") {
                append(device, "\(name) is a namespace of NVMe subsystem \(subsystem); path \(path)")
            }
        }
        // nvmeSnN → the path devices nvmeScCnN, one per controller.
        if found.isEmpty, let n = name.lastIndex(of: "n"), n > name.startIndex {
            let head = name[..<n], namespace = name[name.index(after: n)...]
            for controller in ((try? sysfs.list("class/nvme")) ?? []).sorted() {
                let number = controller.dropFirst("nvme".count)
                let path = "\(head)c\(number)n\(namespace)"
                guard sysfs.exists("class/nvme/\(controller)/\(path)"),
                      let device = pciDevice(behindLink: "class/nvme/\(controller)") else { continue }
                append(device, "\(name) is a namespace of NVMe subsystem \(subsystem); path \(path) on controller \(controller)")
            }
        }
        if found.isEmpty {
            for controller in ((try? sysfs.list("class/nvme-subsystem/\(subsystem)")) ?? []).sorted()
            where controller.hasPrefix("nvme") && controller.dropFirst(4).allSatisfy(\.isNumber) && controller.count > 4 {
                if let device = pciDevice(behindLink: "class/nvme-subsystem/\(subsystem)/\(controller)") {
                    append(device, "\(name) is a namespace of NVMe subsystem \(subsystem), which has controller \(controller)")
                }
            }
        }
        if found.isEmpty {
            problems.append("block/\(name): an NVMe namespace of \(subsystem) whose controllers cannot be found")
        }
        return found
    }
}
