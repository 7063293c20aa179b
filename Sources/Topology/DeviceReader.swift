import Sysfs

/// Reads one PCI function from `bus/pci/devices/ADDRESS` under a sysfs root into a ``PCIDevice``.
///
/// Never throws for a bad attribute: what is missing or garbled becomes a ``DeviceProblem`` and the rest is read.
public struct DeviceReader: Sendable {
    public let root: SysfsRoot
    /// Driver names under `bus/pci/drivers` and group numbers under `kernel/iommu_groups`, listed once by a full
    /// scan so that each device's `driver` and `iommu_group` links are checked against them instead of with a
    /// `stat(2)` each. `nil`: check every link with `fstatat(2)`.
    public let knownTargets: KnownLinkTargets?

    public init(root: SysfsRoot, knownTargets: KnownLinkTargets? = nil) {
        self.root = root
        self.knownTargets = knownTargets
    }

    /// What `bus/pci/drivers` and `kernel/iommu_groups` hold now (each listed once).
    public struct KnownLinkTargets: Sendable {
        public var drivers: Set<String>
        public var groups: Set<String>

        public init(root: SysfsRoot) {
            drivers = Set((try? root.list(PCIPaths.drivers)) ?? [])
            groups = Set((try? root.list(PCIPaths.iommuGroups)) ?? [])
        }

        /// Whether a link target names an existing driver or group directory, or `nil` when the attribute is
        /// not one these lists can answer for.
        func contains(_ target: String, for attribute: PCIAttribute) -> Bool? {
            let parts = target.split(separator: "/")
            guard parts.count >= 3, let last = parts.last else { return nil }
            let parent = parts[parts.count - 2]
            let grandparent = parts[parts.count - 3]
            switch attribute {
            case .driver: return grandparent == "pci" && parent == "drivers" && drivers.contains(String(last))
            case .iommuGroup: return grandparent == "kernel" && parent == "iommu_groups" && groups.contains(String(last))
            default: return nil
            }
        }
    }

    /// Whether `bus/pci/devices/ADDRESS` exists (the device has not been removed).
    public func isPresent(_ address: PCIAddress) -> Bool {
        root.existsWithoutFollowing(PCIPaths.device(address))
    }

    /// Reads every attribute the graph keeps. Returns `nil` when the device is not there at all.
    public func read(_ address: PCIAddress) -> PCIDevice? {
        let base = PCIPaths.device(address)
        let canonical: String
        do {
            guard let target = try root.readLinkIfPresent(base) else { return nil }
            canonical = target
        } catch {
            canonical = ""
        }
        guard let directory = try? SysfsDirectory(base, in: root) else { return nil }
        var device = PCIDevice(address: address)
        device.parent = AttributeParsers.parentBridge(devicePathTarget: canonical)

        device.vendorID = readHex(.vendor, digits: 4, in: directory, into: &device).map { UInt16($0) }
        device.deviceID = readHex(.device, digits: 4, in: directory, into: &device).map { UInt16($0) }
        device.subsystemVendorID = readHex(.subsystemVendor, digits: 4, in: directory, into: &device, optional: true)
            .map { UInt16($0) }
        device.subsystemDeviceID = readHex(.subsystemDevice, digits: 4, in: directory, into: &device, optional: true)
            .map { UInt16($0) }
        device.classCode = readHex(.class, digits: 6, in: directory, into: &device)

        readBinding(in: directory, into: &device)
        if let groupName = readLinkedName(.iommuGroup, in: directory, into: &device) {
            if let number = Int(groupName), number >= 0 {
                device.iommuGroup = number
            } else {
                device.problems.append(DeviceProblem(attribute: "iommu_group", message: "link names '\(groupName)', not a group number"))
            }
        }
        if device.iommuGroup == nil, let listed = groupListing(address) {
            // The kernel lists the device in a group its own link did not name: a read error must never shrink a
            // group, so it stays a member, with the problem kept (the planner blocks a group with such a member).
            device.iommuGroup = listed
            if !device.problems.contains(where: { $0.attribute == PCIAttribute.iommuGroup.rawValue }) {
                device.problems.append(DeviceProblem(attribute: PCIAttribute.iommuGroup.rawValue,
                                                     message: "link missing, but \(PCIPaths.groupDevices(listed)) lists the device"))
            }
        }
        if let pfName = readLinkedName(.physfn, in: directory, into: &device) {
            if let pf = PCIAddress(pfName) {
                device.physfn = pf
            } else {
                device.problems.append(DeviceProblem(attribute: "physfn", message: "link names '\(pfName)', not a PCI address"))
            }
        }
        if let totalText = readText(.sriovTotalVFs, in: directory, into: &device, optional: true) {
            device.sriov = readSRIOV(totalText: totalText, in: directory, into: &device)
        }
        return device
    }

    /// Re-reads only what the kernel's `bind` and `unbind` uevents announce: the `driver` link, and
    /// `driver_override` (which the kernel changes without any uevent, so it is refreshed whenever the device
    /// is read at all). Everything else is kept from `device`. `nil` when the device directory cannot be opened:
    /// the caller then reads the whole device (it may be gone).
    ///
    /// Why the rest need not be read: `driver_bound()` and `__device_release_driver()` emit these uevents and
    /// change only `dev->driver` and its links; ids, class, `iommu_group`, `physfn` and the device's place are set
    /// before `device_add()` emits `add` and stay until `remove`. A PF's SR-IOV state can change with its driver
    /// (a PF driver's `remove()` disables its VFs), so the caller reads a PF in full.
    public func rereadBinding(of device: PCIDevice) -> PCIDevice? {
        guard let directory = try? SysfsDirectory(PCIPaths.device(device.address), in: root) else { return nil }
        var binding = PCIDevice(address: device.address)
        readBinding(in: directory, into: &binding)
        var updated = device
        updated.driver = binding.driver
        updated.driverOverride = binding.driverOverride
        // `read` lists problems in reading order (identity, binding, the rest): replace the binding's run.
        let start = device.problems.firstIndex { !Self.identityAttributes.contains($0.attribute) } ?? device.problems.endIndex
        let end = device.problems[start...].firstIndex { !Self.bindingAttributes.contains($0.attribute) } ?? device.problems.endIndex
        updated.problems.replaceSubrange(start..<end, with: binding.problems)
        return updated
    }

    /// Attributes ``read(_:)`` reads before the binding, and those of the binding (`driver`, `driver_override`).
    static let identityAttributes: Set<String> = Set([PCIAttribute.vendor, .device, .subsystemVendor, .subsystemDevice, .class].map(\.rawValue))
    static let bindingAttributes: Set<String> = [PCIAttribute.driver.rawValue, PCIAttribute.driverOverride.rawValue]

    /// The `driver` link and `driver_override`, in that order (problems included).
    private func readBinding(in directory: borrowing SysfsDirectory, into device: inout PCIDevice) {
        device.driver = readLinkedName(.driver, in: directory, into: &device)
        if let text = readText(.driverOverride, in: directory, into: &device, optional: true) {
            device.driverOverride = AttributeParsers.driverOverride(text)
        }
    }

    private func readSRIOV(totalText: String, in directory: borrowing SysfsDirectory, into device: inout PCIDevice) -> SRIOVState? {
        guard let total = AttributeParsers.count(totalText) else {
            device.problems.append(DeviceProblem(attribute: "sriov_totalvfs", message: "'\(totalText)' is not a count"))
            return nil
        }
        var numVFs = 0
        if let text = readText(.sriovNumVFs, in: directory, into: &device) {
            if let count = AttributeParsers.count(text) { numVFs = count } else {
                device.problems.append(DeviceProblem(attribute: "sriov_numvfs", message: "'\(text)' is not a count"))
            }
        }
        var autoprobe: Bool?
        if let text = readText(.sriovDriversAutoprobe, in: directory, into: &device, optional: true) {
            autoprobe = AttributeParsers.flag(text)
            if autoprobe == nil {
                device.problems.append(DeviceProblem(attribute: "sriov_drivers_autoprobe", message: "'\(text)' is not 0 or 1"))
            }
        }
        // virtfnN links exist for N in 0..<numvfs; read them by name rather than listing the directory.
        for index in 0..<numVFs {
            let name = "virtfn\(index)"
            do {
                let target = try directory.readLink(name)
                if let last = target.split(separator: "/").last, let vf = PCIAddress(last) {
                    device.virtfns.append(vf)
                } else {
                    device.problems.append(DeviceProblem(attribute: name, message: "link target '\(target)' is not a PCI device"))
                }
            } catch {
                device.problems.append(DeviceProblem(attribute: name, message: "missing although sriov_numvfs is \(numVFs) (\(error.errno))"))
            }
        }
        return SRIOVState(totalVFs: total, numVFs: numVFs, driversAutoprobe: autoprobe)
    }

    /// The group whose `kernel/iommu_groups/N/devices` holds an entry for `address`, when the device's own
    /// `iommu_group` link did not give one (missing, dangling, unreadable). Lists the groups only then.
    private func groupListing(_ address: PCIAddress) -> Int? {
        let names = knownTargets?.groups ?? Set((try? root.list(PCIPaths.iommuGroups)) ?? [])
        for name in names {
            guard let number = Int(name), number >= 0 else { continue }
            if root.existsWithoutFollowing(PCIPaths.groupDevices(number) + "/" + address.description) { return number }
        }
        return nil
    }

    /// Reads an attribute's text; a missing file is a problem unless `optional`.
    private func readText(_ attribute: PCIAttribute, in directory: borrowing SysfsDirectory, into device: inout PCIDevice, optional: Bool = false) -> String? {
        do {
            return try directory.read(attribute.rawValue)
        } catch {
            if !(optional && error.errno == .noSuchFileOrDirectory) {
                device.problems.append(DeviceProblem(attribute: attribute.rawValue, message: "cannot read: \(error.errno)"))
            }
            return nil
        }
    }

    private func readHex(_ attribute: PCIAttribute, digits: Int, in directory: borrowing SysfsDirectory, into device: inout PCIDevice, optional: Bool = false) -> UInt32? {
        guard let text = readText(attribute, in: directory, into: &device, optional: optional) else { return nil }
        guard let value = AttributeParsers.hexID(text, digits: digits) else {
            device.problems.append(DeviceProblem(
                attribute: attribute.rawValue,
                message: "'\(text.prefix(40))' is not 0x followed by \(digits) hex digits"))
            return nil
        }
        return value
    }

    /// The last component of a link's target, checking that the target exists (a dangling link is a problem).
    private func readLinkedName(_ attribute: PCIAttribute, in directory: borrowing SysfsDirectory, into device: inout PCIDevice) -> String? {
        let name = attribute.rawValue
        let target: String
        do {
            guard let present = try directory.readLinkIfPresent(name) else { return nil }
            target = present
        } catch {
            device.problems.append(DeviceProblem(attribute: name, message: "cannot read link: \(error.errno)"))
            return nil
        }
        guard knownTargets?.contains(target, for: attribute) ?? directory.exists(name) else {
            device.problems.append(DeviceProblem(attribute: name, message: "link points to '\(target)', which does not exist"))
            return nil
        }
        guard let last = AttributeParsers.lastPathComponent(target) else {
            device.problems.append(DeviceProblem(attribute: name, message: "empty link target"))
            return nil
        }
        return String(last)
    }
}
