#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Sysfs
import Topology

/// Writes with the meaning Linux gives them. Each store function below names the kernel function it mirrors;
/// `Sources/SimulatedKernel/README.md` lists the facts, so the real-kernel rig can check the same ones.
///
/// A write to a path that does not exist fails as `open(2)` would (`ENOENT`); to an existing file that has no
/// store function (`vendor`, `class`…) with `EACCES`, as kernfs refuses to open it for writing. Errors carry
/// the absolute path. An empty value is written as `"\n"`, as ``SysfsRoot/write(_:to:)`` does.
extension SimulatedKernel: SysfsAttributeWriter {
    /// Writes `value` to the attribute at `relative` as one `write(2)` to sysfs would: armed faults fire first
    /// (see ``inject(_:on:_:)``), then the attribute's store function runs under the kernel lock, changing the
    /// tree and emitting events to ``events(bufferLimit:)`` subscribers. Throws the errno the kernel would return.
    public func write(_ value: String, to relative: String) throws(SysfsError) {
        let path = Self.normalise(relative)
        let full = root.absolute(path)
        if let writeLog { Self.appendLine("\(path)\t\(value.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n"))\n", to: writeLog) }
        let armed = state.withLock { state -> [WriteFault] in
            guard var faults = state.faults[path], !faults.isEmpty else { return [] }
            let firing = faults.map(\.fault)
            faults.removeAll { $0.persistence == .once }
            state.faults[path] = faults.isEmpty ? nil : faults
            return firing
        }
        // A hang comes first: the writer is blocked in the store function before anything else happens.
        for case .hang(let gate) in armed { gate.pass() }
        var removeAfter: [PCIAddress] = []
        for fault in armed {
            switch fault {
            case .hang: continue
            case .fail(let errno):
                state.withLock { $0.writes.append(RecordedWrite(path: path, value: value, errno: errno)) }
                throw SysfsError(operation: "write", path: full, errno: errno)
            case .removeDeviceBefore(let address):
                _ = try? unplug(address)
            case .removeDeviceAfter(let address):
                removeAfter.append(address)
            }
        }
        let outcome: SysfsError? = state.withLock { state in
            var result: SysfsError?
            do {
                try store(value.isEmpty ? "\n" : value, path: path, state: &state)
            } catch let error as SysfsError {
                result = error
            } catch {
                result = SysfsError(operation: "write", path: full, errno: .ioError)
            }
            state.writes.append(RecordedWrite(path: path, value: value, errno: result?.errno))
            return result
        }
        for address in removeAfter { _ = try? unplug(address) }
        if let outcome { throw outcome }
    }

    /// Appends `line` to the ``writeLog`` file in one `write(2)` with `O_APPEND` (best effort: a log that cannot
    /// be written loses the line, it does not fail the write).
    static func appendLine(_ line: String, to file: String) {
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = Array(line.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func failure(_ errno: Errno, _ path: String, operation: String = "write") -> SysfsError {
        SysfsError(operation: operation, path: root.absolute(path), errno: errno)
    }

    /// Finds the store function for `path` and runs it.
    func store(_ value: String, path: String, state: inout State) throws {
        guard root.existsWithoutFollowing(path) else { throw failure(.noSuchFileOrDirectory, path, operation: "open") }
        let parts = path.split(separator: "/").map(String.init)
        if path == PCIPaths.driversProbe { return try driversProbeStore(value, path: path, state: &state) }
        if path == PCIPaths.rescan { return try rescanStore(value, path: path, state: &state) }
        if parts.count == 5, parts[0] == "bus", parts[1] == "pci", parts[2] == "drivers" {
            let driver = parts[3]
            switch parts[4] {
            case "bind": return try bindStore(value, driver: driver, path: path, state: &state)
            case "unbind": return try unbindStore(value, driver: driver, path: path, state: &state)
            case "new_id": return try newIDStore(value, driver: driver, path: path, state: &state)
            case "remove_id": return try removeIDStore(value, driver: driver, path: path, state: &state)
            default: throw failure(.permissionDenied, path, operation: "open")
            }
        }
        guard let (address, attribute) = deviceAttribute(parts) else { throw failure(.permissionDenied, path, operation: "open") }
        switch attribute {
        case PCIAttribute.driverOverride.rawValue: try driverOverrideStore(value, address, path: path)
        case PCIAttribute.remove.rawValue: try removeStore(value, address, path: path, state: &state)
        case PCIAttribute.reset.rawValue: try resetStore(value, path: path)
        case PCIAttribute.sriovNumVFs.rawValue: try sriovNumVFsStore(value, address, path: path, state: &state)
        case PCIAttribute.sriovDriversAutoprobe.rawValue: try sriovDriversAutoprobeStore(value, address, path: path)
        default: throw failure(.permissionDenied, path, operation: "open")
        }
    }

    /// `bus/pci/devices/ADDRESS/ATTR`, or the device's own directory `devices/pci0000:00/…/ADDRESS/ATTR`.
    func deviceAttribute(_ parts: [String]) -> (PCIAddress, String)? {
        guard parts.count >= 2, let address = PCIAddress(parts[parts.count - 2]) else { return nil }
        let attribute = parts[parts.count - 1]
        if parts.count == 5, parts[0] == "bus", parts[1] == "pci", parts[2] == "devices" { return (address, attribute) }
        if parts.first == "devices", deviceDirectory(address) == parts.dropLast().joined(separator: "/") {
            return (address, attribute)
        }
        return nil
    }

    // MARK: Parsing as the kernel parses

    /// `bus_find_device_by_name` with `sysfs_streq`: the exact device name, a trailing newline ignored.
    func deviceNamed(_ value: String) -> PCIAddress? {
        let name = value.hasSuffix("\n") ? String(value.dropLast()) : value
        guard let address = PCIAddress(name), address.description == name, isPresent(address) else { return nil }
        return address
    }

    /// `kstrtoul(buf, 0, …)` / `kstrtou16`: decimal, `0x` hex or leading-`0` octal, one trailing newline allowed.
    static func parseUnsigned(_ value: String, max: UInt64 = .max) -> UInt64? {
        var text = Substring(value)
        if text.hasSuffix("\n") { text = text.dropLast() }
        if text.hasPrefix("+") { text = text.dropFirst() }
        let parsed: UInt64?
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            parsed = UInt64(text.dropFirst(2), radix: 16)
        } else if text.count > 1 && text.hasPrefix("0") {
            parsed = UInt64(text.dropFirst(), radix: 8)
        } else {
            parsed = UInt64(text, radix: 10)
        }
        guard let parsed, parsed <= max else { return nil }
        return parsed
    }

    /// `kstrtobool`: `1`/`y`/`Y`/`on` and `0`/`n`/`N`/`off` (only the leading characters count).
    static func parseBool(_ value: String) -> Bool? {
        let chars = Array(value)
        guard let first = chars.first else { return nil }
        switch first {
        case "1", "y", "Y": return true
        case "0", "n", "N": return false
        case "o", "O":
            guard chars.count > 1 else { return nil }
            switch chars[1] {
            case "n", "N": return true
            case "f", "F": return false
            default: return nil
            }
        default: return nil
        }
    }

    /// `sscanf(buf, "%x %x %x %x %x %x %lx", …)` as `new_id_store` and `remove_id_store` read it: the
    /// fields read before the first one that is not hex.
    static func parseIDFields(_ value: String) -> [UInt32] {
        var fields: [UInt32] = []
        for token in value.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            var digits = Substring(token)
            if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
            guard fields.count < 7, let number = UInt32(digits, radix: 16) else { break }
            fields.append(number)
        }
        return fields
    }

    // MARK: Device attributes

    /// `driver_override_store` → `driver_set_override` (drivers/base/driver.c): more than `PAGE_SIZE - 2`
    /// bytes is `EINVAL`; the value is cut at a NUL and at the first newline; an empty result (`""`, `"\n"`)
    /// clears it, and it reads `(null)` again. Setting it unbinds nothing and probes nothing.
    func driverOverrideStore(_ value: String, _ address: PCIAddress, path: String) throws {
        var bytes = Array(value.utf8)
        guard bytes.count < 4096 - 1 else { throw failure(.invalidArgument, path) }
        if let nul = bytes.firstIndex(of: 0) { bytes = Array(bytes[..<nul]) }
        if let newline = bytes.firstIndex(of: 0x0A) { bytes = Array(bytes[..<newline]) }
        let shown = bytes.isEmpty ? "(null)" : String(decoding: bytes, as: UTF8.self)
        try tree.writeFile(path, shown + "\n")
    }

    /// `remove_store` (pci-sysfs.c): a number, nonzero removes the device and everything below it
    /// (`pci_stop_and_remove_bus_device_locked`); 0 does nothing; not a number is `EINVAL`. The device is
    /// remembered for `bus/pci/rescan`.
    func removeStore(_ value: String, _ address: PCIAddress, path: String, state: inout State) throws {
        guard let number = Self.parseUnsigned(value) else { throw failure(.invalidArgument, path) }
        guard number != 0 else { return }
        _ = try removeSubtreeLocked(address, remember: true, state: &state)
    }

    /// `reset_store`: only `1` is accepted (`EINVAL` otherwise); the function reset changes nothing sysfs shows.
    func resetStore(_ value: String, path: String) throws {
        guard Self.parseUnsigned(value) == 1 else { throw failure(.invalidArgument, path) }
    }

    /// `sriov_numvfs_store` (drivers/pci/iov.c), in the kernel's order of checks:
    /// not a u16 → `EINVAL`; above `sriov_totalvfs` → `ERANGE`; equal to the current count → success, nothing
    /// happens; no driver bound to the PF → `ENOENT`; the driver has no `sriov_configure` → `ENOENT`;
    /// 0 → all VFs removed; VFs already enabled (nonzero → nonzero) → `EBUSY`; else the VFs are created.
    func sriovNumVFsStore(_ value: String, _ pf: PCIAddress, path: String, state: inout State) throws {
        guard let requested = Self.parseUnsigned(value, max: UInt64(UInt16.max)).map(Int.init) else {
            throw failure(.invalidArgument, path)
        }
        let directory = PCIPaths.device(pf)
        let total = (try? root.read("\(directory)/sriov_totalvfs")).flatMap { Int($0) } ?? 0
        guard requested <= total else { throw failure(.outOfRange, path) }
        let current = (try? root.read("\(directory)/sriov_numvfs")).flatMap { Int($0) } ?? 0
        if requested == current { return }
        guard let driver = boundDriver(pf) else { throw failure(.noSuchFileOrDirectory, path) }
        guard state.catalogue.driver(named: driver).supportsSRIOVConfigure else { throw failure(.noSuchFileOrDirectory, path) }
        if requested == 0 {
            _ = try disableVFsLocked(pf, state: &state)
            return
        }
        guard current == 0 else { throw failure(.resourceBusy, path) }
        _ = try enableVFsLocked(pf, count: requested, state: &state)
    }

    /// `sriov_drivers_autoprobe_store`: a `kstrtobool` value (`EINVAL` otherwise), shown as `0` or `1`. It
    /// decides whether VFs created later are probed (`pci_device_can_probe`).
    func sriovDriversAutoprobeStore(_ value: String, _ pf: PCIAddress, path: String) throws {
        guard let flag = Self.parseBool(value) else { throw failure(.invalidArgument, path) }
        try tree.writeFile(path, flag ? "1\n" : "0\n")
    }

    // MARK: Bus and driver files

    /// `drivers_probe_store` (drivers/base/bus.c): an unknown device is `ENODEV`; otherwise an unbound device
    /// is offered to every driver (`device_attach`) and the write succeeds whether or not one binds: a driver's
    /// probe failing is not an error. A bound device is left alone. With `driver_override` set, only that
    /// driver can bind (`none`: none can). One failure does surface: when the matching driver is a DMA host
    /// driver and a VFIO user owns the group, `pci_dma_configure` fails before the probe, `device_attach`
    /// returns it negative and `drivers_probe_store` turns any negative result into `EINVAL`.
    func driversProbeStore(_ value: String, path: String, state: inout State) throws {
        guard let address = deviceNamed(value) else { throw failure(.operationNotSupportedByDevice, path) }
        if try deviceAttachReportingLocked(address, state: &state).failure != nil {
            throw failure(.invalidArgument, path)
        }
    }

    /// `bus_rescan_store`: a number; nonzero rescans (`pci_rescan_bus`), bringing back removed devices.
    func rescanStore(_ value: String, path: String, state: inout State) throws {
        guard let number = Self.parseUnsigned(value) else { throw failure(.invalidArgument, path) }
        guard number != 0 else { return }
        _ = try rescanLocked(state: &state)
    }

    /// `bind_store` (drivers/base/bus.c): the device must exist and the driver match it
    /// (`driver_match_device` → `pci_bus_match`: `driver_override`, dynamic ids, id table), else `ENODEV`;
    /// a device that already has a driver is `EBUSY` (`__driver_probe_device`); then probe errors come back as
    /// the write's error (`device_driver_attach`): `EBUSY` for a DMA host driver in a group a VFIO user owns,
    /// `ENODEV` for a VF that may not be probed or a device the driver's probe turns down.
    func bindStore(_ value: String, driver: String, path: String, state: inout State) throws {
        guard let address = deviceNamed(value), matches(driver, address, state: &state) else {
            throw failure(.operationNotSupportedByDevice, path)
        }
        guard boundDriver(address) == nil else { throw failure(.resourceBusy, path) }
        if let errno = probeFailure(driver, address, state: &state) { throw failure(errno, path) }
        _ = try attachLocked(address, driver: driver, state: &state)
    }

    /// `unbind_store` (drivers/base/bus.c): the device must exist and be bound to this driver, else `ENODEV`;
    /// then `device_release_driver` (`unbind` uevent, no `DRIVER=`). `driver_override` is kept.
    func unbindStore(_ value: String, driver: String, path: String, state: inout State) throws {
        guard let address = deviceNamed(value), boundDriver(address) == driver else {
            throw failure(.operationNotSupportedByDevice, path)
        }
        _ = try detachLocked(address, state: &state)
    }

    /// `new_id_store` (drivers/pci/pci-driver.c): `"VVVV DDDD [SVVV SDDD CCCCCC MMMMMM DATA]"` in hex; fewer
    /// than two fields is `EINVAL`; without driver data, an id the driver already matches (static or dynamic)
    /// is `EEXIST`. Otherwise the id is added (`pci_add_dynid`) and the driver is offered every unbound device
    /// at once (`driver_attach`), binding those that match.
    func newIDStore(_ value: String, driver: String, path: String, state: inout State) throws {
        let fields = Self.parseIDFields(value)
        guard fields.count >= 2 else { throw failure(.invalidArgument, path) }
        let id = PCIDeviceID(vendor: fields[0], device: fields[1],
                             subvendor: fields.count > 2 ? fields[2] : PCIDeviceID.any,
                             subdevice: fields.count > 3 ? fields[3] : PCIDeviceID.any,
                             classCode: fields.count > 4 ? fields[4] : 0, classMask: fields.count > 5 ? fields[5] : 0)
        if fields.count != 7 {
            let probe = MatchIdentity(vendor: UInt16(truncatingIfNeeded: id.vendor), device: UInt16(truncatingIfNeeded: id.device),
                                       subvendor: UInt16(truncatingIfNeeded: id.subvendor),
                                       subdevice: UInt16(truncatingIfNeeded: id.subdevice), classCode: id.classCode)
            let known = (state.dynamicIDs[driver] ?? []) + state.catalogue.driver(named: driver).idTable
            if known.contains(where: { $0.matches(probe) }) { throw failure(.fileExists, path) }
        }
        state.dynamicIDs[driver, default: []].append(id)
        _ = try driverAttachLocked(driver, state: &state)
    }

    /// `remove_id_store`: at least vendor and device (`EINVAL`); the first dynamic id with that vendor and
    /// device (and subsystem ids and class, when given) is removed, else `ENODEV`. Bound devices stay bound.
    func removeIDStore(_ value: String, driver: String, path: String, state: inout State) throws {
        let fields = Self.parseIDFields(value)
        guard fields.count >= 2 else { throw failure(.invalidArgument, path) }
        let subvendor = fields.count > 2 ? fields[2] : PCIDeviceID.any
        let subdevice = fields.count > 3 ? fields[3] : PCIDeviceID.any
        let classCode = fields.count > 4 ? fields[4] : 0
        let classMask = fields.count > 5 ? fields[5] : 0
        var ids = state.dynamicIDs[driver] ?? []
        guard let index = ids.firstIndex(where: { id in
            id.vendor == fields[0] && id.device == fields[1]
                && (subvendor == PCIDeviceID.any || id.subvendor == subvendor)
                && (subdevice == PCIDeviceID.any || id.subdevice == subdevice)
                && (id.classCode ^ classCode) & classMask == 0
        }) else { throw failure(.operationNotSupportedByDevice, path) }
        ids.remove(at: index)
        state.dynamicIDs[driver] = ids.isEmpty ? nil : ids
    }
}
