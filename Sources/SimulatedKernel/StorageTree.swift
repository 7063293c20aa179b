#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs

/// Block-device layouts the host-use analysis resolves, written as the kernel lays them out in sysfs (6.1, seen on
/// the real-kernel rig: `Tests/VM/scenarios/hostuse` prints them), and udev's database beside the tree.
extension SysfsTree {
    /// A disk directly under a PCI function, with `dev` and an empty `holders/`: `DEVICE/SUBPATH/block/NAME`,
    /// `block/NAME` and `class/block/NAME` → it. Returns the disk's directory.
    @discardableResult
    public func addDisk(_ name: String, on address: PCIAddress, dev: String, under subpath: String) throws -> String {
        let directory = try deviceDirectory(address) + "/\(subpath)/block/\(name)"
        try makeDirectory("\(directory)/holders")
        try writeFile("\(directory)/dev", "\(dev)\n")
        try symlink("block/\(name)", to: directory)
        try makeDirectory("class/block")
        try symlink("class/block/\(name)", to: directory)
        return directory
    }

    /// How an NVMe namespace head tells which controllers reach it (kernels differ; see ``addNVMeSubsystemNamespace``).
    public enum NVMePathEvidence: Sendable, CaseIterable {
        /// `block/nvmeSnN/multipath/nvmeScCnN` → the path device under each controller (newer kernels).
        case multipathLinks
        /// Only the hidden path devices `nvmeScCnN` under each controller (`class/nvme/nvmeC/nvmeScCnN`).
        case hiddenPathDevices
        /// Only the subsystem's links to its controllers (`nvme-subsysS/nvmeC`).
        case subsystemLinks
    }

    /// An NVMe controller `nvmeC` of subsystem `nvme-subsysS` on the PCI function `address`: `DEVICE/nvme/nvmeC`,
    /// `class/nvme/nvmeC` → it, and the subsystem's link `devices/virtual/nvme-subsystem/nvme-subsysS/nvmeC` → it.
    public func addNVMeController(_ controller: String, subsystem: String, on address: PCIAddress,
                                  linkFromSubsystem: Bool = true) throws {
        let directory = try deviceDirectory(address) + "/nvme/\(controller)"
        try makeDirectory(directory)
        try symlink("\(directory)/device", to: try deviceDirectory(address))
        try makeDirectory("class/nvme")
        try symlink("class/nvme/\(controller)", to: directory)
        let subsystemDirectory = "devices/virtual/nvme-subsystem/\(subsystem)"
        try makeDirectory(subsystemDirectory)
        try makeDirectory("class/nvme-subsystem")
        try symlink("class/nvme-subsystem/\(subsystem)", to: subsystemDirectory)
        if linkFromSubsystem { try symlink("\(subsystemDirectory)/\(controller)", to: directory) }
    }

    /// A namespace head `head` (`nvme0n1`) of `subsystem` with native multipath: its disk under the subsystem node,
    /// `devices/virtual/nvme-subsystem/nvme-subsysS/nvmeSnN` with `dev`, and `block/nvmeSnN` → it, so that no PCI
    /// address is in its path. `paths` are the controllers (`nvme0`) whose path devices reach it, shown as `evidence`
    /// says. Add the controllers first (``addNVMeController(_:subsystem:on:linkFromSubsystem:)``).
    public func addNVMeSubsystemNamespace(_ head: String, subsystem: String, dev: String, paths: [String],
                                          evidence: NVMePathEvidence) throws {
        let directory = "devices/virtual/nvme-subsystem/\(subsystem)/\(head)"
        try makeDirectory("\(directory)/holders")
        try writeFile("\(directory)/dev", "\(dev)\n")
        try symlink("block/\(head)", to: directory)
        try makeDirectory("class/block")
        try symlink("class/block/\(head)", to: directory)
        guard let n = head.lastIndex(of: "n") else { return }
        for controller in paths {
            let number = controller.dropFirst("nvme".count)
            let path = "\(head[..<n])c\(number)n\(head[head.index(after: n)...])"
            let controllerDirectory = LinkTarget.resolve(try root.readLink("class/nvme/\(controller)"), from: "class/nvme")
            switch evidence {
            case .multipathLinks:
                try makeDirectory("\(controllerDirectory)/\(path)")
                try makeDirectory("\(directory)/multipath")
                try symlink("\(directory)/multipath/\(path)", to: "\(controllerDirectory)/\(path)")
            case .hiddenPathDevices:
                // 6.1 (the rig): the hidden path disk has no `dev`, but is listed in `block/` and `class/block/`.
                try makeDirectory("\(controllerDirectory)/\(path)/holders")
                try symlink("block/\(path)", to: "\(controllerDirectory)/\(path)")
                try symlink("class/block/\(path)", to: "\(controllerDirectory)/\(path)")
            case .subsystemLinks:
                break
            }
        }
    }

    /// udev's database entry for block device `majorMinor` under the directory that plays `/run`
    /// (`udev/data/b8:1`), with `E:NAME=VALUE` lines for `properties`, as systemd-udevd writes it.
    public static func writeUdevEntry(_ properties: [(String, String)], majorMinor: String, under run: SysfsRoot) throws {
        try FileManager.default.createDirectory(atPath: run.absolute("udev/data"), withIntermediateDirectories: true)
        var text = "S:disk/by-id/example\nI:1234567\nG:systemd\n"
        for (name, value) in properties { text += "E:\(name)=\(value)\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: run.absolute("udev/data/b\(majorMinor)")))
    }

    /// A mounted btrfs filesystem's `fs/btrfs/UUID/` with `label` and `devices/NAME` → each block device.
    public func addBtrfsFilesystem(uuid: String, label: String, devices: [String]) throws {
        try makeDirectory("fs/btrfs/\(uuid)/devices")
        try writeFile("fs/btrfs/\(uuid)/label", "\(label)\n")
        for device in devices {
            let target = LinkTarget.resolve(try root.readLink("block/\(device)"), from: "block")
            try symlink("fs/btrfs/\(uuid)/devices/\(device)", to: target)
        }
    }
}
