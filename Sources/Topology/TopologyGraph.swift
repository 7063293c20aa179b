import Sysfs

/// The PCI devices of a host and their IOMMU groups, as a value.
///
/// Built by ``scan(root:)`` and kept current by ``apply(_:reading:)``; after any sequence of events the
/// incrementally kept graph equals a fresh scan of the same tree (tested on generated event sequences).
public struct TopologyGraph: Sendable, Equatable {
    /// Every function under `bus/pci/devices`, by address.
    public private(set) var devices: [PCIAddress: PCIDevice]
    /// Every group that has at least one member, by number; derived from the devices' `iommu_group` links.
    public private(set) var groups: [Int: IOMMUGroup]
    /// Entries of `bus/pci/devices` that are not PCI addresses, and similar tree-level oddities.
    public private(set) var problems: [String]
    /// The functions behind each bridge (devices by ``PCIDevice/parent``), so that a removal finds its subtree
    /// without looking at every device. Derived from `devices`, kept by `insert` and `remove`.
    private var children: [PCIAddress: Set<PCIAddress>]

    public init(devices: [PCIDevice] = [], problems: [String] = []) {
        self.devices = [:]
        self.groups = [:]
        self.children = [:]
        self.problems = problems
        for device in devices { insert(device) }
    }

    /// Reads every device under `bus/pci/devices`. Throws only when that directory cannot be listed at all.
    public static func scan(root: SysfsRoot) throws(SysfsError) -> TopologyGraph {
        let reader = DeviceReader(root: root, knownTargets: DeviceReader.KnownLinkTargets(root: root))
        let names = try root.list(PCIPaths.devices)
        var problems: [String] = []
        var devices: [PCIDevice] = []
        devices.reserveCapacity(names.count)
        for name in names {
            guard let address = PCIAddress(name) else {
                problems.append("\(PCIPaths.devices)/\(name): not a PCI address, skipped")
                continue
            }
            if let device = reader.read(address) {
                devices.append(device)
            } else {
                problems.append("\(PCIPaths.devices)/\(name): link points nowhere, skipped")
            }
        }
        problems.sort()
        return TopologyGraph(devices: devices, problems: problems)
    }

    /// Devices in address order.
    public var sortedDevices: [PCIDevice] { devices.values.sorted { $0.address < $1.address } }

    /// Groups in number order.
    public var sortedGroups: [IOMMUGroup] { groups.values.sorted { $0.number < $1.number } }

    /// Devices that belong to no IOMMU group (no IOMMU enabled, or an unreadable link), in address order.
    public var ungroupedDevices: [PCIDevice] { sortedDevices.filter { $0.iommuGroup == nil } }

    /// The members of group `number` as devices.
    public func members(ofGroup number: Int) -> [PCIDevice] {
        (groups[number]?.members ?? []).compactMap { devices[$0] }
    }

    /// Whether group `number` could be handed to VFIO as it stands.
    public func viability(ofGroup number: Int) -> GroupViability {
        GroupViability.of(members(ofGroup: number))
    }

    /// The group of the device at `address`, if it has one.
    public func group(of address: PCIAddress) -> IOMMUGroup? {
        devices[address]?.iommuGroup.flatMap { groups[$0] }
    }

    // MARK: Incremental update

    /// Applies one event by re-reading what it can have changed: the device itself and, for a VF, its PF
    /// (whose `virtfnN` links and `sriov_numvfs` follow the VF). Returns what changed.
    ///
    /// `bind` and `unbind` of a known device that is not an SR-IOV PF re-read only its `driver` link and
    /// `driver_override` (``DeviceReader/rereadBinding(of:)`` says why that is all such an event changes); every
    /// other event, and a PF's, re-reads the whole device.
    ///
    /// `bind` and `unbind` of a device the graph does not hold read nothing. The kernel sends a device's `add`
    /// before any `bind`, and the graph re-read the device for that `add` (or was scanned after it): so a device
    /// still missing is gone (its `remove` follows), or it was added again (a new `add` follows). Only lost
    /// events break that order, and those end in a rescan (`ENOBUFS`, the periodic resync). Most such events
    /// come from devices removed before the agent caught up (VFs switched off, surprise removal), where a read
    /// would only fail.
    ///
    /// An `unbind` event carries no `DRIVER=`; the previous driver is the one the graph remembers, and the
    /// returned change shows it as the old value.
    public mutating func apply(_ event: DeviceEvent, reading root: SysfsRoot) -> GraphChange {
        let reader = DeviceReader(root: root)
        if event.action == .bind || event.action == .unbind {
            guard let known = devices[event.address] else { return GraphChange() }
            if known.sriov == nil, let reread = reader.rereadBinding(of: known) {
                return reread == known ? GraphChange() : replace([event.address: reread])
            }
        }
        var affected: [PCIAddress] = [event.address]
        if let pf = devices[event.address]?.physfn { affected.append(pf) }
        var readings: [PCIAddress: PCIDevice?] = [:]
        for address in affected {
            readings[address] = event.action == .remove && address == event.address ? nil : reader.read(address)
        }
        // A VF that appeared names its PF only once read.
        if let pf = readings[event.address]??.physfn, readings[pf] == nil {
            readings[pf] = reader.read(pf)
        }
        // Devices the graph still holds whose parent bridge was removed are gone too (the kernel removes
        // the subtree; their own remove events may be behind this one).
        if event.action == .remove || readings[event.address] == nil {
            for child in children[event.address] ?? [] where !reader.isPresent(child) {
                readings[child] = .some(nil)
            }
        }
        return replace(readings)
    }

    /// Replaces the whole graph with a fresh scan (after `ENOBUFS` or a periodic resync) and returns the difference.
    public mutating func rescan(root: SysfsRoot) throws(SysfsError) -> GraphChange {
        let fresh = try TopologyGraph.scan(root: root)
        let change = TopologyGraph.difference(from: self, to: fresh)
        self = fresh
        return change
    }

    /// The change that turns `old` into `new`.
    public static func difference(from old: TopologyGraph, to new: TopologyGraph) -> GraphChange {
        let addresses = Set(old.devices.keys).union(new.devices.keys).sorted()
        let deviceChanges = addresses.compactMap { DeviceChange.between(old.devices[$0], new.devices[$0]) }
        let groupNumbers = Set(old.groups.keys).union(new.groups.keys).sorted()
        let groupChanges = groupNumbers.compactMap { number -> GroupChange? in
            let before = old.summary(ofGroup: number)
            let after = new.summary(ofGroup: number)
            return before == after ? nil : GroupChange(group: number, before: before, after: after)
        }
        return GraphChange(devices: deviceChanges, groups: groupChanges)
    }

    /// Sets each address to its new reading (`nil`: removed) and reports devices and groups that changed.
    private mutating func replace(_ readings: [PCIAddress: PCIDevice?]) -> GraphChange {
        // Most events find sysfs as the graph has it (a replayed or duplicate event, a re-read after our own write).
        if readings.allSatisfy({ devices[$0.key] == $0.value }) { return GraphChange() }
        var touchedGroups = Set<Int>()
        for (address, reading) in readings {
            if let group = devices[address]?.iommuGroup { touchedGroups.insert(group) }
            if let group = reading?.iommuGroup { touchedGroups.insert(group) }
        }
        let groupsBefore = Dictionary(uniqueKeysWithValues: touchedGroups.map { ($0, summary(ofGroup: $0)) })
        var deviceChanges: [DeviceChange] = []
        for address in readings.keys.sorted() {
            let old = devices[address]
            let new = readings[address]!
            if let change = DeviceChange.between(old, new) { deviceChanges.append(change) }
            remove(address)
            if let new { insert(new) }
        }
        let groupChanges = touchedGroups.sorted().compactMap { number -> GroupChange? in
            let before = groupsBefore[number]!
            let after = summary(ofGroup: number)
            return before == after ? nil : GroupChange(group: number, before: before, after: after)
        }
        return GraphChange(devices: deviceChanges, groups: groupChanges)
    }

    private func summary(ofGroup number: Int) -> GroupSummary? {
        guard let group = groups[number] else { return nil }
        return GroupSummary(members: group.members, viable: viability(ofGroup: number).viable)
    }

    private mutating func insert(_ device: PCIDevice) {
        devices[device.address] = device
        if let parent = device.parent { children[parent, default: []].insert(device.address) }
        if let number = device.iommuGroup {
            var group = groups[number] ?? IOMMUGroup(number: number, members: [])
            let index = group.members.firstIndex { $0 > device.address } ?? group.members.endIndex
            group.members.insert(device.address, at: index)
            groups[number] = group
        }
    }

    private mutating func remove(_ address: PCIAddress) {
        guard let old = devices.removeValue(forKey: address) else { return }
        if let parent = old.parent {
            children[parent]?.remove(address)
            if children[parent]?.isEmpty == true { children[parent] = nil }
        }
        if let number = old.iommuGroup, var group = groups[number] {
            group.members.removeAll { $0 == address }
            groups[number] = group.members.isEmpty ? nil : group
        }
    }
}
