#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
import Sysfs

/// A simulated VFIO user's hold on a group: `/dev/vfio/N` opened and attached to a container
/// (`VFIO_GROUP_SET_CONTAINER`), which claims the group's DMA ownership (`iommu_group_claim_dma_owner`).
public struct VFIOGroupHandle: Sendable, Hashable {
    /// The group number (`/dev/vfio/N`).
    public let group: Int
    let kernel: SimulatedKernel

    /// Closes the group file: DMA ownership is released and host drivers may bind again.
    public func close() {
        kernel.closeGroup(group)
    }

    public static func == (lhs: VFIOGroupHandle, rhs: VFIOGroupHandle) -> Bool {
        lhs.group == rhs.group && lhs.kernel === rhs.kernel
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(group)
        hasher.combine(ObjectIdentifier(kernel))
    }
}

extension SimulatedKernel {
    /// `DEV/vfio/N`, the group's character device (a plain file here).
    public func vfioGroupNode(_ group: Int) -> String {
        "\(devDirectory)/vfio/\(group)"
    }

    /// Whether `/dev/vfio/N` exists now.
    public func vfioGroupNodeExists(_ group: Int) -> Bool {
        FileManager.default.fileExists(atPath: vfioGroupNode(group))
    }

    /// Groups a simulated VFIO user holds open.
    public var openGroups: Set<Int> {
        state.withLock { $0.openGroups }
    }

    /// A VFIO user (QEMU) opens `/dev/vfio/N` and attaches it to a container.
    ///
    /// - `ENOENT` when there is no node (no member is bound to a vfio driver);
    /// - `EBUSY` when the group is already open (`vfio_group_fops_open`: one opener at a time);
    /// - `EPERM` when the group is not viable: a member is bound to a driver that uses the kernel's DMA domain
    ///   (`iommu_group_claim_dma_owner` fails while `owner_cnt` is nonzero).
    ///
    /// While held, binding a DMA host driver to any member fails with `EBUSY` (see ``bind(_:driver:)``).
    public func openGroup(_ group: Int) throws(SysfsError) -> VFIOGroupHandle {
        let node = vfioGroupNode(group)
        let errno: Errno? = state.withLock { state in
            guard FileManager.default.fileExists(atPath: node) else { return .noSuchFileOrDirectory }
            guard !state.openGroups.contains(group) else { return .resourceBusy }
            let members = ((try? root.list(PCIPaths.groupDevices(group))) ?? []).compactMap { PCIAddress($0) }
            for member in members {
                if let driver = boundDriver(member), !state.catalogue.driver(named: driver).managesDMA {
                    return .notPermitted
                }
            }
            state.openGroups.insert(group)
            return nil
        }
        if let errno {
            throw SysfsError(operation: errno == .notPermitted ? "ioctl VFIO_GROUP_SET_CONTAINER" : "open", path: node, errno: errno)
        }
        return VFIOGroupHandle(group: group, kernel: self)
    }

    func closeGroup(_ group: Int) {
        state.withLock { _ = $0.openGroups.remove(group) }
    }

    /// Creates or removes `/dev/vfio/N` after a member's binding changed: the node exists while at least one
    /// member is bound to a vfio driver (`vfio_register_group_dev` creates the group and its cdev with the
    /// first device; the last `vfio_unregister_group_dev` removes it). Viability is not needed for the node:
    /// it is checked when a user attaches the group (``openGroup(_:)``).
    func refreshVFIONode(group: Int?) {
        guard let group else { return }
        let members = ((try? root.list(PCIPaths.groupDevices(group))) ?? []).compactMap { PCIAddress($0) }
        let hasVFIODevice = members.contains { boundDriver($0)?.hasPrefix("vfio") == true }
        let node = vfioGroupNode(group)
        let fileManager = FileManager.default
        if hasVFIODevice {
            guard !fileManager.fileExists(atPath: node) else { return }
            try? fileManager.createDirectory(atPath: "\(devDirectory)/vfio", withIntermediateDirectories: true)
            _ = fileManager.createFile(atPath: node, contents: nil)
        } else if fileManager.fileExists(atPath: node) {
            try? fileManager.removeItem(atPath: node)
        }
    }
}
