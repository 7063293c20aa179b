import Synchronization
import Sysfs
import Topology

/// A kernel that owns a ``SysfsTree`` and changes it as Linux would, emitting the uevents Linux would emit
/// (`add`, `bind` with `DRIVER=`, `unbind` without it, `remove`), numbered by a `SEQNUM` counter.
///
/// Kernel-side happenings (a hotplug, a module binding a device, VFs created) are methods here. Thread-safe:
/// every change happens under one lock, and events reach subscribers in `SEQNUM` order.
public final class SimulatedKernel: Sendable {
    struct State: ~Copyable {
        var seqnum: UInt64 = 1000
        var subscribers: [Int: AsyncStream<MonitorEvent>.Continuation] = [:]
        var nextSubscriber = 0
    }

    public let tree: SysfsTree
    let state = Mutex(State())

    public init(tree: SysfsTree) {
        self.tree = tree
    }

    /// The root that readers (the graph, the CLI) use to see this kernel's tree.
    public var root: SysfsRoot { tree.root }

    /// Every event emitted from now on, as the udev monitor would deliver it.
    public func events() -> AsyncStream<MonitorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: MonitorEvent.self, bufferingPolicy: .unbounded)
        let id = state.withLock { state in
            defer { state.nextSubscriber += 1 }
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Numbers an event and hands it to every subscriber. Call with the lock held (inside `withLock`).
    func emit(_ action: DeviceEvent.Action, _ address: PCIAddress, driver: String? = nil, in state: inout State) -> DeviceEvent {
        state.seqnum += 1
        let devpath = (try? tree.deviceDirectory(address)).map { "/" + $0 }
        let event = DeviceEvent(action: action, address: address, driver: driver, seqnum: state.seqnum, devpath: devpath)
        for continuation in state.subscribers.values { continuation.yield(.device(event)) }
        return event
    }

    /// Tells subscribers that events were lost, as a netlink socket's `ENOBUFS` does.
    public func overflow() {
        state.withLock { state in
            for continuation in state.subscribers.values { continuation.yield(.overflow) }
        }
    }

    // MARK: Kernel-side happenings

    /// A device is hot-plugged: `add`, then `bind` if a driver claims it.
    @discardableResult
    public func hotplug(_ spec: DeviceSpec) throws -> [DeviceEvent] {
        try state.withLock { state in
            try tree.createDevice(spec)
            var events = [emit(.add, spec.address, in: &state)]
            if let driver = spec.driver {
                try tree.linkDriver(spec.address, to: driver)
                events.append(emit(.bind, spec.address, driver: driver, in: &state))
            }
            return events
        }
    }

    /// A device is removed (surprise removal or `remove`): `unbind` if bound, then `remove`; VFs of a PF and
    /// devices behind a bridge go first, as the kernel removes children before parents.
    @discardableResult
    public func unplug(_ address: PCIAddress) throws -> [DeviceEvent] {
        try state.withLock { state in try unplugLocked(address, state: &state) }
    }

    func unplugLocked(_ address: PCIAddress, state: inout State) throws -> [DeviceEvent] {
        var events: [DeviceEvent] = []
        let directory = try tree.deviceDirectory(address)
        // Children: VFs of a PF, then functions below a bridge.
        if let numVFs = try? tree.root.read("\(directory)/sriov_numvfs"), let count = Int(numVFs), count > 0 {
            events += try disableVFsLocked(address, state: &state)
        }
        for entry in (try? tree.root.list(directory)) ?? [] {
            if let child = PCIAddress(entry), tree.root.existsWithoutFollowing(PCIPaths.device(child)) {
                events += try unplugLocked(child, state: &state)
            }
        }
        if let driver = try tree.unlinkDriver(address) {
            events.append(emit(.unbind, address, driver: nil, in: &state))
            _ = driver
        }
        try tree.deleteDevice(address)
        events.append(emit(.remove, address, in: &state))
        return events
    }

    /// A driver claims a device (a module load, a probe): `bind` with `DRIVER=`.
    @discardableResult
    public func bind(_ address: PCIAddress, driver: String) throws -> [DeviceEvent] {
        try state.withLock { state in
            try tree.unlinkDriver(address).map { _ in () }
            try tree.linkDriver(address, to: driver)
            return [emit(.bind, address, driver: driver, in: &state)]
        }
    }

    /// The bound driver lets go: `unbind`, without `DRIVER=`. No event when nothing was bound.
    @discardableResult
    public func unbind(_ address: PCIAddress) throws -> [DeviceEvent] {
        try state.withLock { state in
            guard try tree.unlinkDriver(address) != nil else { return [] }
            return [emit(.unbind, address, in: &state)]
        }
    }

    /// Sets the number of VFs of a PF as a write to `sriov_numvfs` does (0 removes them all). Each new VF is
    /// placed beside its PF at routing id PF + offset + stride × index, in a new group of its own, and, when
    /// `sriov_drivers_autoprobe` is 1, claimed at once by the PF's driver (`add`, then `bind`).
    @discardableResult
    public func setNumVFs(_ pf: PCIAddress, to count: Int) throws -> [DeviceEvent] {
        try state.withLock { state in
            if count == 0 { return try disableVFsLocked(pf, state: &state) }
            return try enableVFsLocked(pf, count: count, state: &state)
        }
    }

    func enableVFsLocked(_ pf: PCIAddress, count: Int, state: inout State) throws -> [DeviceEvent] {
        let directory = try tree.deviceDirectory(pf)
        let reader = DeviceReader(root: tree.root)
        guard let pfDevice = reader.read(pf), let sriov = pfDevice.sriov else {
            throw SysfsError(operation: "write", path: tree.root.absolute("\(directory)/sriov_numvfs"), errno: .noSuchFileOrDirectory)
        }
        let autoprobe = sriov.driversAutoprobe ?? true
        let vfDeviceID = (try? tree.root.read("\(directory)/sriov_vf_device")).flatMap { UInt16($0, radix: 16) } ?? (pfDevice.deviceID ?? 0)
        var events: [DeviceEvent] = []
        var nextGroup = nextFreeGroup()
        for index in 0..<count {
            let rid = (Int(pf.bus) << 8 | Int(pf.slot) << 3 | Int(pf.function)) + 1 + index
            let vf = PCIAddress(domain: pf.domain, bus: UInt8((rid >> 8) & 0xFF), slot: UInt8((rid >> 3) & 0x1F), function: UInt8(rid & 7))
            let spec = DeviceSpec(vf, vendor: pfDevice.vendorID ?? 0, device: vfDeviceID, classCode: pfDevice.classCode ?? 0,
                                  group: pfDevice.iommuGroup == nil ? nil : nextGroup, parent: pfDevice.parent)
            let parentDirectory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)])
            try tree.createDevice(spec, directory: "\(parentDirectory)/\(vf)")
            try tree.linkVF(vf, index: index, to: pf)
            nextGroup += 1
            events.append(emit(.add, vf, in: &state))
            if autoprobe, let driver = pfDevice.driver {
                try tree.linkDriver(vf, to: driver)
                events.append(emit(.bind, vf, driver: driver, in: &state))
            }
        }
        try tree.writeFile("\(directory)/sriov_numvfs", "\(count)\n")
        return events
    }

    func disableVFsLocked(_ pf: PCIAddress, state: inout State) throws -> [DeviceEvent] {
        let directory = try tree.deviceDirectory(pf)
        let count = (try? tree.root.read("\(directory)/sriov_numvfs")).flatMap { Int($0) } ?? 0
        var events: [DeviceEvent] = []
        for index in (0..<count).reversed() {
            guard let name = try tree.root.linkName("\(directory)/virtfn\(index)"), let vf = PCIAddress(name) else { continue }
            if try tree.unlinkDriver(vf) != nil { events.append(emit(.unbind, vf, in: &state)) }
            try tree.unlinkVF(index: index, of: pf)
            try tree.deleteDevice(vf)
            events.append(emit(.remove, vf, in: &state))
        }
        try tree.writeFile("\(directory)/sriov_numvfs", "0\n")
        return events
    }

    /// One more than the highest group number in `kernel/iommu_groups` (the kernel's ida allocates upward).
    func nextFreeGroup() -> Int {
        let numbers = ((try? tree.root.list(PCIPaths.iommuGroups)) ?? []).compactMap(Int.init)
        return (numbers.max() ?? -1) + 1
    }
}
