import Synchronization
import SystemPackage
import Sysfs
import Topology

/// A kernel that owns a ``SysfsTree`` and changes it as Linux would, emitting the uevents Linux would emit
/// (`add`, `bind` with `DRIVER=`, `unbind` without it, `remove`), numbered by a `SEQNUM` counter.
///
/// Two kinds of change reach it:
/// - kernel-side happenings (a hotplug, a module loaded, VFs created, a driver claiming a device) are methods
///   here: ``hotplug(_:probe:)``, ``unplug(_:)``, ``loadModule(_:)``, ``bind(_:driver:)``, ``setNumVFs(_:to:)``…
/// - writes to sysfs attributes, through ``SysfsAttributeWriter/write(_:to:)`` (see `KernelWrites.swift`), with
///   the semantics of the kernel's store functions (`driver_override_store`, `bind_store`, `sriov_numvfs_store`…).
///
/// The tree on disk is the state of devices (which driver is bound, `driver_override`, groups); this object
/// adds what sysfs does not show: the driver catalogue and dynamic ids, open VFIO groups, devices removed and
/// waiting for a rescan, armed faults and subscribers. It may be created over a tree built earlier.
///
/// Thread-safe: every change happens under one lock, and events reach subscribers in `SEQNUM` order. A write
/// held by a ``WriteFault/hang(_:)`` fault blocks its own thread only, outside the lock.
public final class SimulatedKernel: Sendable {
    struct State: ~Copyable {
        var seqnum: UInt64 = 1000
        var subscribers: [Int: EventSubscription] = [:]
        var nextSubscriber = 0
        var eventBufferLimit: Int?
        var catalogue: DriverCatalogue
        /// `new_id` entries per driver (`pci_dynid`), lost when the module unloads.
        var dynamicIDs: [String: [PCIDeviceID]] = [:]
        /// Devices removed through their `remove` attribute, brought back by `bus/pci/rescan`.
        var removed: [RemovedDevice] = []
        /// Groups a simulated VFIO user holds (`/dev/vfio/N` open and attached to a container).
        var openGroups: Set<Int> = []
        var faults: [String: [ArmedFault]] = [:]
        var emitted: [DeviceEvent] = []
        var writes: [RecordedWrite] = []
    }

    struct RemovedDevice {
        var spec: DeviceSpec
        var directory: String
    }

    /// The most events ``takeEmittedEvents()`` keeps; older ones are discarded first.
    public static let emittedEventsKept = 20_000

    public let tree: SysfsTree
    /// The directory that plays `/dev`: `vfio/N` appears there for VFIO groups (see ``vfioGroupNode(_:)``).
    public let devDirectory: String
    /// A file to which every write that reaches ``write(_:to:)`` is appended as it arrives, before it is handled
    /// (`PATH<TAB>VALUE`, newlines in VALUE as `\\n`): a record that outlives the process, so that a test can
    /// see every write several processes made to the same tree, even one killed mid-way. `nil`: none.
    public let writeLog: String?
    let state: Mutex<State>

    /// A kernel over `tree`, with the drivers of `catalogue`, whose VFIO group nodes go to `devDirectory`
    /// (created when first needed). By default that is a `dev` folder beside the root when the root is named
    /// `sys` (`/tmp/x/sys` → `/tmp/x/dev`), else the root's path with `-dev` appended.
    public init(tree: SysfsTree, devDirectory: String? = nil, catalogue: DriverCatalogue = .linux, writeLog: String? = nil) {
        self.tree = tree
        self.writeLog = writeLog
        self.devDirectory = devDirectory ?? Self.defaultDevDirectory(for: tree.root)
        self.state = Mutex(State(catalogue: catalogue))
        try? tree.writeFile(PCIPaths.ueventSeqnum, "\(state.withLock { $0.seqnum })\n")
        if devDirectory != nil { syncVFIONodes() }
    }

    /// Makes `/dev/vfio/N` match the tree for every group (done at creation when `devDirectory` is given, so
    /// a tree built with members already on vfio-pci has its nodes).
    public func syncVFIONodes() {
        for name in (try? root.list(PCIPaths.iommuGroups)) ?? [] {
            if let group = Int(name) { refreshVFIONode(group: group) }
        }
    }

    static func defaultDevDirectory(for root: SysfsRoot) -> String {
        let path = root.path
        if path.hasSuffix("/sys"), let slash = path.lastIndex(of: "/") {
            return String(path[..<slash]) + "/dev"
        }
        return path + "-dev"
    }

    /// The root that readers (the graph, the CLI) use to see this kernel's tree.
    public var root: SysfsRoot { tree.root }

    // MARK: Events

    /// Every event emitted from now on, as the udev monitor would deliver it. The receive queue holds at most
    /// `bufferLimit` events (default ``eventBufferLimit``, unbounded when `nil`); beyond that events are
    /// dropped and the subscriber receives ``MonitorEvent/overflow`` next, as a netlink socket reports `ENOBUFS`.
    public func events(bufferLimit: Int? = nil) -> AsyncStream<MonitorEvent> {
        let (id, subscription) = state.withLock { state in
            let subscription = EventSubscription(limit: bufferLimit ?? state.eventBufferLimit)
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = subscription
            return (id, subscription)
        }
        let token = SubscriptionToken { [weak self] in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
            subscription.finish()
        }
        return AsyncStream(unfolding: {
            withExtendedLifetime(token) {}
            return await subscription.next()
        }, onCancel: {
            subscription.finish()
        })
    }

    /// The receive-queue size given to subscribers that do not choose one (`nil`: unbounded).
    public var eventBufferLimit: Int? {
        get { state.withLock { $0.eventBufferLimit } }
        set { state.withLock { $0.eventBufferLimit = newValue } }
    }

    /// Every event emitted since the last call (at most ``emittedEventsKept``), and forgets them: what a test
    /// compares with the events a write should have caused.
    public func takeEmittedEvents() -> [DeviceEvent] {
        state.withLock { state in
            defer { state.emitted = [] }
            return state.emitted
        }
    }

    /// Every write that reached ``write(_:to:)`` since the last call, with its outcome, and forgets them.
    public func takeWrites() -> [RecordedWrite] {
        state.withLock { state in
            defer { state.writes = [] }
            return state.writes
        }
    }

    /// Numbers an event and hands it to every subscriber. Call with the lock held (inside `withLock`).
    @discardableResult
    func emit(_ action: DeviceEvent.Action, _ address: PCIAddress, driver: String? = nil, devpath: String? = nil,
              in state: inout State) -> DeviceEvent {
        state.seqnum += 1
        // As the kernel counts before it broadcasts: a reader of kernel/uevent_seqnum has seen this event's change.
        try? tree.writeFile(PCIPaths.ueventSeqnum, "\(state.seqnum)\n")
        let path = devpath ?? (try? tree.deviceDirectory(address)).map { "/" + $0 }
        let event = DeviceEvent(action: action, address: address, driver: driver, seqnum: state.seqnum, devpath: path)
        for subscription in state.subscribers.values { subscription.deliver(.device(event)) }
        state.emitted.append(event)
        if state.emitted.count > Self.emittedEventsKept { state.emitted.removeFirst(state.emitted.count / 2) }
        return event
    }

    /// Tells subscribers that events were lost, as a netlink socket's `ENOBUFS` does.
    public func overflow() {
        state.withLock { state in
            for subscription in state.subscribers.values { subscription.deliver(.overflow) }
        }
    }

    /// A burst of `count` `change` uevents on one device (`DRIVER=` while bound), as a flapping device or a
    /// `udevadm trigger` makes: with a bounded receive queue, subscribers overflow.
    @discardableResult
    public func eventBurst(on address: PCIAddress, count: Int) -> [DeviceEvent] {
        state.withLock { state in
            let driver = boundDriver(address)
            return (0..<count).map { _ in emit(.change, address, driver: driver, in: &state) }
        }
    }

    // MARK: Faults

    /// Arms a fault on writes to `relative` (`bus/pci/drivers/e1000/unbind`); faults armed on the same path
    /// fire in the order they were armed, a hang first.
    public func inject(_ fault: WriteFault, on relative: String, _ persistence: FaultPersistence = .once) {
        let path = Self.normalise(relative)
        state.withLock { $0.faults[path, default: []].append(ArmedFault(fault: fault, persistence: persistence)) }
    }

    /// Disarms every fault.
    public func clearFaults() {
        state.withLock { $0.faults = [:] }
    }

    /// `bus/pci/devices/X/attr` from `/bus//pci/devices/X/attr/`.
    static func normalise(_ relative: String) -> String {
        relative.split(separator: "/").joined(separator: "/")
    }

    // MARK: Kernel-side happenings

    /// A device is hot-plugged: `add`, then `bind` if `spec.driver` claims it. With `probe` and no
    /// `spec.driver`, the loaded drivers are probed as `pci_bus_add_device` → `device_attach` does.
    @discardableResult
    public func hotplug(_ spec: DeviceSpec, probe: Bool = false) throws -> [DeviceEvent] {
        try state.withLock { state in
            try tree.createDevice(spec)
            var events = [emit(.add, spec.address, in: &state)]
            if let driver = spec.driver {
                events.append(try attachLocked(spec.address, driver: driver, state: &state))
            } else if probe, let event = try deviceAttachLocked(spec.address, state: &state) {
                events.append(event)
            }
            return events
        }
    }

    /// A device is removed (surprise removal): the subtree is stopped then removed as
    /// `pci_stop_and_remove_bus_device` does: a PF's VFs first (`unbind`, `remove` each), then `unbind` of every
    /// bound function below, deepest and last first, then `remove` of each in the same order. Not remembered
    /// for a rescan (the hardware is gone); see the `remove` attribute for that.
    @discardableResult
    public func unplug(_ address: PCIAddress) throws -> [DeviceEvent] {
        try state.withLock { state in try removeSubtreeLocked(address, remember: false, state: &state) }
    }

    /// A driver claims a device (a module binding it, a probe): `unbind` first if another driver held it,
    /// then `bind` with `DRIVER=`. No id matching (the happening is that it *did* bind), but a DMA host driver
    /// is refused with `EBUSY` while a VFIO user holds the device's group (`iommu_device_use_default_domain`).
    @discardableResult
    public func bind(_ address: PCIAddress, driver: String) throws -> [DeviceEvent] {
        try state.withLock { state in
            if let errno = dmaOwnershipConflict(address, driver: driver, state: &state) {
                throw SysfsError(operation: "bind", path: root.absolute(PCIPaths.device(address)), errno: errno)
            }
            var events: [DeviceEvent] = []
            if boundDriver(address) != nil, let event = try detachLocked(address, state: &state) { events.append(event) }
            events.append(try attachLocked(address, driver: driver, state: &state))
            return events
        }
    }

    /// The bound driver lets go: `unbind`, without `DRIVER=`. No event when nothing was bound.
    @discardableResult
    public func unbind(_ address: PCIAddress) throws -> [DeviceEvent] {
        try state.withLock { state in
            try detachLocked(address, state: &state).map { [$0] } ?? []
        }
    }

    /// Sets the number of VFs of a PF as the PF driver's `sriov_configure` does (0 removes them all), without
    /// the checks of the `sriov_numvfs` attribute (see ``write(_:to:)`` for those). Each new VF is placed beside
    /// its PF at routing id PF + offset + stride × index, in a new group of its own, gets `physfn` and the PF's
    /// `virtfnN`, and is probed as `pci_bus_add_device` does: with `sriov_drivers_autoprobe` 1 the driver whose
    /// table matches claims it at once (`add`, then `bind`); with 0 it stays unbound (`add` only).
    @discardableResult
    public func setNumVFs(_ pf: PCIAddress, to count: Int) throws -> [DeviceEvent] {
        try state.withLock { state in
            if count == 0 { return try disableVFsLocked(pf, state: &state) }
            return try enableVFsLocked(pf, count: count, state: &state)
        }
    }

    /// A module is loaded (`modprobe NAME`): `bus/pci/drivers/NAME` appears and the driver is offered every
    /// unbound device (`driver_register` → `driver_attach`), binding those it matches: the classic way a host
    /// driver claims a member of an assigned group. Returns the `bind` events; none if already loaded.
    @discardableResult
    public func loadModule(_ name: String) throws -> [DeviceEvent] {
        try state.withLock { state in
            guard !tree.isDriverRegistered(name) else { return [] }
            try tree.registerDriver(name)
            return try driverAttachLocked(name, state: &state)
        }
    }

    /// Adds `driver` to the catalogue, then loads it as `loadModule(_ name:)` does.
    @discardableResult
    public func loadModule(_ driver: SimulatedDriver) throws -> [DeviceEvent] {
        state.withLock { $0.catalogue.add(driver) }
        return try loadModule(driver.name)
    }

    /// A module is unloaded (`rmmod NAME`): every device it drives is unbound (`unbind` each), its dynamic
    /// ids are forgotten and `bus/pci/drivers/NAME` disappears.
    @discardableResult
    public func unloadModule(_ name: String) throws -> [DeviceEvent] {
        try state.withLock { state in
            guard tree.isDriverRegistered(name) else { return [] }
            var events: [DeviceEvent] = []
            let bound = ((try? root.list(PCIPaths.driver(name))) ?? []).compactMap { PCIAddress($0) }.sorted()
            for address in bound {
                if let event = try detachLocked(address, state: &state) { events.append(event) }
            }
            state.dynamicIDs[name] = nil
            try tree.removeItem(PCIPaths.driver(name))
            return events
        }
    }

    /// Brings back devices removed through their `remove` attribute, as a write to `bus/pci/rescan` does:
    /// `add` for each (parents first), then each is probed (`bind` where a driver claims it).
    @discardableResult
    public func rescan() throws -> [DeviceEvent] {
        try state.withLock { state in try rescanLocked(state: &state) }
    }

    /// The drivers the kernel knows, loaded or not.
    public var catalogue: DriverCatalogue { state.withLock { $0.catalogue } }

    /// The dynamic ids added to `driver` through `new_id` and not removed.
    public func dynamicIDs(of driver: String) -> [PCIDeviceID] {
        state.withLock { $0.dynamicIDs[driver] ?? [] }
    }

    // MARK: Reading the tree

    func deviceDirectory(_ address: PCIAddress) -> String? {
        try? tree.deviceDirectory(address)
    }

    func isPresent(_ address: PCIAddress) -> Bool {
        root.existsWithoutFollowing(PCIPaths.device(address))
    }

    func boundDriver(_ address: PCIAddress) -> String? {
        try? root.linkName("\(PCIPaths.device(address))/driver")
    }

    /// `driver_override`, `nil` when it shows `(null)`.
    func driverOverride(_ address: PCIAddress) -> String? {
        guard let text = try? root.read(PCIPaths.attribute(.driverOverride, of: address)) else { return nil }
        return text == "(null)" ? nil : text
    }

    func group(of address: PCIAddress) -> Int? {
        (try? root.linkName(PCIPaths.attribute(.iommuGroup, of: address))).flatMap { $0.flatMap(Int.init) }
    }

    func physfn(of address: PCIAddress) -> PCIAddress? {
        (try? root.linkName(PCIPaths.attribute(.physfn, of: address))).flatMap { $0.flatMap { PCIAddress($0) } }
    }

    func identity(of address: PCIAddress) -> MatchIdentity? {
        func value(_ attribute: PCIAttribute) -> UInt32? {
            guard let text = try? root.read(PCIPaths.attribute(attribute, of: address)) else { return nil }
            return UInt32(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16)
        }
        guard let vendor = value(.vendor), let device = value(.device) else { return nil }
        return MatchIdentity(vendor: UInt16(truncatingIfNeeded: vendor), device: UInt16(truncatingIfNeeded: device),
                              subvendor: UInt16(truncatingIfNeeded: value(.subsystemVendor) ?? 0),
                              subdevice: UInt16(truncatingIfNeeded: value(.subsystemDevice) ?? 0),
                              classCode: value(.class) ?? 0)
    }

    func allDevices() -> [PCIAddress] {
        ((try? root.list(PCIPaths.devices)) ?? []).compactMap { PCIAddress($0) }.sorted()
    }

    /// Loaded drivers (`bus/pci/drivers/*`) in the order the bus offers a device to them: the catalogue's
    /// order, then unknown drivers by name.
    func loadedDrivers(state: inout State) -> [String] {
        let loaded = Set((try? root.list(PCIPaths.drivers)) ?? [])
        let known = state.catalogue.drivers.map(\.name).filter { loaded.contains($0) }
        let unknown = loaded.subtracting(known).sorted()
        return known + unknown
    }

    // MARK: Matching and probing

    /// `pci_match_device`: with `driver_override` set, only the driver of that name matches (and it matches
    /// whatever its tables say, through `pci_device_id_any`); otherwise a dynamic id (`new_id`) or an entry of
    /// the static table must match.
    func matches(_ driverName: String, _ address: PCIAddress, state: inout State) -> Bool {
        let override = driverOverride(address)
        if let override, override != driverName { return false }
        if let identity = identity(of: address) {
            if (state.dynamicIDs[driverName] ?? []).contains(where: { $0.matches(identity) }) { return true }
            if state.catalogue.driver(named: driverName).idTable.contains(where: { $0.matches(identity) }) { return true }
        }
        return override != nil
    }

    /// `iommu_device_use_default_domain`, called from `pci_dma_configure` in `really_probe`: a driver that
    /// does not manage DMA itself cannot bind while the group's DMA is owned by a VFIO user (`EBUSY`).
    func dmaOwnershipConflict(_ address: PCIAddress, driver: String, state: inout State) -> Errno? {
        guard let group = group(of: address), state.openGroups.contains(group) else { return nil }
        return state.catalogue.driver(named: driver).managesDMA ? nil : .resourceBusy
    }

    /// Why `really_probe` of a matched driver fails, `nil` if it binds: the DMA ownership conflict (`EBUSY`),
    /// then `pci_device_can_probe` (a VF of a PF with `sriov_drivers_autoprobe` 0 and no `driver_override`
    /// cannot be probed: `ENODEV`), then the driver's own `probe()` turning the device down (``SimulatedDriver/probeRejectionErrno``).
    func probeFailure(_ driverName: String, _ address: PCIAddress, state: inout State) -> Errno? {
        if let errno = dmaOwnershipConflict(address, driver: driverName, state: &state) { return errno }
        if let pf = physfn(of: address), driverOverride(address) == nil,
           (try? root.read(PCIPaths.attribute(.sriovDriversAutoprobe, of: pf))) == "0" {
            return .operationNotSupportedByDevice
        }
        let driver = state.catalogue.driver(named: driverName)
        if driver.refusesPFWithVFs,
           let count = (try? root.read(PCIPaths.attribute(.sriovNumVFs, of: address))).flatMap({ Int($0) }), count > 0 {
            return .resourceBusy
        }
        if let identity = identity(of: address), driver.probeRejects.contains(where: { $0.matches(identity) }) {
            return driver.probeRejectionErrno
        }
        return nil
    }

    /// `__device_attach`: offers an unbound device to each loaded driver in turn; the first that matches and
    /// probes binds it. A failure of the driver's own probe (`pci_device_probe`: a VF that may not be probed,
    /// a device the driver turns down) is positive in `really_probe` and lets the next driver try; a failure
    /// before it (`pci_dma_configure`'s `EBUSY` while a VFIO user owns the group) is negative and ends the
    /// walk: it is returned as `failure`, and callers other than `drivers_probe` ignore it.
    func deviceAttachLocked(_ address: PCIAddress, state: inout State) throws -> DeviceEvent? {
        try deviceAttachReportingLocked(address, state: &state).event
    }

    func deviceAttachReportingLocked(_ address: PCIAddress, state: inout State) throws -> (event: DeviceEvent?, failure: Errno?) {
        guard isPresent(address), boundDriver(address) == nil else { return (nil, nil) }
        for driver in loadedDrivers(state: &state) where matches(driver, address, state: &state) {
            if let errno = dmaOwnershipConflict(address, driver: driver, state: &state) { return (nil, errno) }
            if probeFailure(driver, address, state: &state) == nil {
                return (try attachLocked(address, driver: driver, state: &state), nil)
            }
        }
        return (nil, nil)
    }

    /// `driver_attach`: offers every unbound device, in address order, to one driver.
    func driverAttachLocked(_ driver: String, state: inout State) throws -> [DeviceEvent] {
        var events: [DeviceEvent] = []
        for address in allDevices() where boundDriver(address) == nil && matches(driver, address, state: &state) {
            if probeFailure(driver, address, state: &state) == nil {
                events.append(try attachLocked(address, driver: driver, state: &state))
            }
        }
        return events
    }

    /// Binds: the `driver` links, a `bind` uevent with `DRIVER=`, and the group's `/dev/vfio/N` node updated.
    func attachLocked(_ address: PCIAddress, driver: String, state: inout State) throws -> DeviceEvent {
        try tree.linkDriver(address, to: driver)
        let event = emit(.bind, address, driver: driver, in: &state)
        refreshVFIONode(group: group(of: address))
        return event
    }

    /// Unbinds: removes the links, emits `unbind` (no `DRIVER=`, as `__device_release_driver` sends it),
    /// updates `/dev/vfio/N`. `nil` when nothing was bound.
    func detachLocked(_ address: PCIAddress, state: inout State) throws -> DeviceEvent? {
        guard try tree.unlinkDriver(address) != nil else { return nil }
        let event = emit(.unbind, address, in: &state)
        refreshVFIONode(group: group(of: address))
        return event
    }

    // MARK: Removal and rescan

    /// The functions directly below a bridge (not VFs: their PF removes them).
    func children(of address: PCIAddress) -> [PCIAddress] {
        guard let directory = deviceDirectory(address) else { return [] }
        return ((try? root.list(directory)) ?? []).compactMap { PCIAddress($0) }
            .filter { isPresent($0) && physfn(of: $0) == nil && deviceDirectory($0) == "\(directory)/\($0)" }
            .sorted()
    }

    func removeSubtreeLocked(_ address: PCIAddress, remember: Bool, state: inout State) throws -> [DeviceEvent] {
        guard isPresent(address) else {
            throw SysfsError(operation: "remove", path: root.absolute(PCIPaths.device(address)), errno: .noSuchFileOrDirectory)
        }
        var events: [DeviceEvent] = []
        try stopLocked(address, events: &events, state: &state)
        try destroyLocked(address, remember: remember, events: &events, state: &state)
        return events
    }

    /// `pci_stop_bus_device`: children last-first, then the device's driver is released. A PF's VFs go
    /// first, as its driver's `remove()` disables SR-IOV.
    func stopLocked(_ address: PCIAddress, events: inout [DeviceEvent], state: inout State) throws {
        if let count = (try? root.read(PCIPaths.attribute(.sriovNumVFs, of: address))).flatMap({ Int($0) }), count > 0 {
            events += try disableVFsLocked(address, state: &state)
        }
        for child in children(of: address).reversed() {
            try stopLocked(child, events: &events, state: &state)
        }
        if let event = try detachLocked(address, state: &state) { events.append(event) }
    }

    /// `pci_remove_bus_device`: children last-first, then the device itself (`remove`).
    func destroyLocked(_ address: PCIAddress, remember: Bool, events: inout [DeviceEvent], state: inout State) throws {
        for child in children(of: address).reversed() {
            try destroyLocked(child, remember: remember, events: &events, state: &state)
        }
        guard let directory = deviceDirectory(address) else { return }
        let group = group(of: address)
        if remember && physfn(of: address) == nil {
            state.removed.append(RemovedDevice(spec: specFromTree(address, directory: directory), directory: directory))
        }
        try tree.deleteDevice(address)
        events.append(emit(.remove, address, devpath: "/" + directory, in: &state))
        refreshVFIONode(group: group)
    }

    /// What the tree shows of a device, as a spec that recreates it (without its driver, VFs, interfaces).
    func specFromTree(_ address: PCIAddress, directory: String) -> DeviceSpec {
        let reader = DeviceReader(root: root)
        let device = reader.read(address)
        func hexFile(_ name: String) -> UInt32? {
            guard let text = try? root.read("\(directory)/\(name)") else { return nil }
            return UInt32(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16)
        }
        let config = (try? root.readBytes("\(directory)/config")) ?? []
        let isBridge = device?.isBridge ?? false
        return DeviceSpec(
            address, vendor: device?.vendorID ?? 0, device: device?.deviceID ?? 0,
            subsystemVendor: device?.subsystemVendorID, subsystemDevice: device?.subsystemDeviceID,
            classCode: device?.classCode ?? 0, revision: UInt8(truncatingIfNeeded: hexFile("revision") ?? 0),
            driver: nil, group: device?.iommuGroup, parent: device?.parent,
            secondaryBus: isBridge && config.count > 0x19 ? config[0x19] : nil,
            sriovTotalVFs: device?.sriov?.totalVFs,
            vfDeviceID: hexFile("sriov_vf_device").map { UInt16(truncatingIfNeeded: $0) },
            bootVGA: (try? root.read("\(directory)/boot_vga")) == "1")
    }

    /// `pci_rescan_bus`: every removed device comes back (`pci_device_add` → `add`), parents first, then each
    /// is probed (`pci_bus_add_devices` → `device_attach` → `bind`). VFs are not found by a bus scan.
    func rescanLocked(state: inout State) throws -> [DeviceEvent] {
        let pending = state.removed.sorted {
            let depth = ($0.directory.split(separator: "/").count, $1.directory.split(separator: "/").count)
            return depth.0 != depth.1 ? depth.0 < depth.1 : $0.spec.address < $1.spec.address
        }
        state.removed = []
        var events: [DeviceEvent] = []
        var added: [PCIAddress] = []
        for device in pending where !isPresent(device.spec.address) {
            let parent = String(device.directory[..<(device.directory.lastIndex(of: "/") ?? device.directory.endIndex)])
            guard root.existsWithoutFollowing(parent) else { continue }
            try tree.createDevice(device.spec, directory: device.directory)
            events.append(emit(.add, device.spec.address, in: &state))
            added.append(device.spec.address)
        }
        for address in added {
            if let event = try deviceAttachLocked(address, state: &state) { events.append(event) }
        }
        return events
    }

    // MARK: SR-IOV

    func enableVFsLocked(_ pf: PCIAddress, count: Int, state: inout State) throws -> [DeviceEvent] {
        let directory = try tree.deviceDirectory(pf)
        let reader = DeviceReader(root: tree.root)
        guard let pfDevice = reader.read(pf), pfDevice.sriov != nil else {
            throw SysfsError(operation: "write", path: tree.root.absolute("\(directory)/sriov_numvfs"), errno: .noSuchFileOrDirectory)
        }
        let vfDeviceID = (try? tree.root.read("\(directory)/sriov_vf_device")).flatMap { UInt16($0, radix: 16) } ?? (pfDevice.deviceID ?? 0)
        var events: [DeviceEvent] = []
        var nextGroup = nextFreeGroup()
        let parentDirectory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)])
        var created: [PCIAddress] = []
        for index in 0..<count {
            let rid = (Int(pf.bus) << 8 | Int(pf.slot) << 3 | Int(pf.function)) + 1 + index
            let vf = PCIAddress(domain: pf.domain, bus: UInt8((rid >> 8) & 0xFF), slot: UInt8((rid >> 3) & 0x1F), function: UInt8(rid & 7))
            let spec = DeviceSpec(vf, vendor: pfDevice.vendorID ?? 0, device: vfDeviceID, classCode: pfDevice.classCode ?? 0,
                                  group: pfDevice.iommuGroup == nil ? nil : nextGroup, parent: pfDevice.parent)
            try tree.createDevice(spec, directory: "\(parentDirectory)/\(vf)")
            try tree.linkVF(vf, index: index, to: pf)
            created.append(vf)
            // sriov_numvfs follows the VFs as they appear, so a reader never sees a virtfnN beyond it.
            try tree.writeFile("\(directory)/sriov_numvfs", "\(index + 1)\n")
            nextGroup += 1
            events.append(emit(.add, vf, in: &state))
            if let event = try deviceAttachLocked(vf, state: &state) { events.append(event) }
        }
        return events
    }

    /// `sriov_del_vfs`: each VF in index order is stopped and removed (`unbind` if bound, then `remove`).
    func disableVFsLocked(_ pf: PCIAddress, state: inout State) throws -> [DeviceEvent] {
        let directory = try tree.deviceDirectory(pf)
        let count = (try? tree.root.read("\(directory)/sriov_numvfs")).flatMap { Int($0) } ?? 0
        var events: [DeviceEvent] = []
        for index in 0..<count {
            guard let name = try tree.root.linkName("\(directory)/virtfn\(index)"), let vf = PCIAddress(name) else { continue }
            // A VF removed on its own (its `remove`, a surprise removal) left its PF's `virtfnN` dangling.
            guard isPresent(vf) else {
                try tree.unlinkVF(index: index, of: pf)
                continue
            }
            if let event = try detachLocked(vf, state: &state) { events.append(event) }
            let vfDirectory = try tree.deviceDirectory(vf)
            let group = group(of: vf)
            try tree.unlinkVF(index: index, of: pf)
            try tree.deleteDevice(vf)
            events.append(emit(.remove, vf, devpath: "/" + vfDirectory, in: &state))
            refreshVFIONode(group: group)
        }
        try tree.writeFile("\(directory)/sriov_numvfs", "0\n")
        return events
    }

    /// One more than the highest group number in `kernel/iommu_groups`.
    func nextFreeGroup() -> Int {
        let numbers = ((try? tree.root.list(PCIPaths.iommuGroups)) ?? []).compactMap(Int.init)
        return (numbers.max() ?? -1) + 1
    }
}
