import Sysfs
import Topology

/// The policy file (default `/etc/vfio-warden/policy.toml`): what the agent may manage, what it must never
/// touch, static assignments and SR-IOV rules.
///
/// A value: parse it with ``parse(text:file:)`` or ``load(path:)``, then ask ``isManaged(_:in:serial:)``,
/// ``isProtected(_:serial:)`` or ``verdict(for:in:serial:)``. Devices are named by what survives a reboot
/// (address, `vendor:device`, serial number), never by IOMMU group number.
public struct Policy: Sendable, Hashable {
    /// The file name errors and rule descriptions use (`policy.toml`, `/etc/vfio-warden/policy.toml`).
    public var file: String
    /// `[manage]`: the allowlist. Empty: monitor-only, nothing is ever written.
    public var manage: [PolicyRule]
    /// `[protect]`: never touched, even when an allowlist rule matches.
    public var protect: [PolicyRule]
    /// `[[assign]]`: static assignments; the whole group of each device follows it.
    public var assignments: [StaticAssignment]
    /// `[[sriov]]`: VF count and VF driver per physical function.
    public var sriov: [SRIOVRule]
    /// `[host_use]`: what counts as host use where the analysis can only infer it (a network device whose interface is
    /// in another namespace, the controller of the only keyboard). Both count as in use unless set to `"free"`.
    public var hostUse: HostUseOptions = HostUseOptions()

    public init(
        file: String, manage: [PolicyRule] = [], protect: [PolicyRule] = [],
        assignments: [StaticAssignment] = [], sriov: [SRIOVRule] = []
    ) {
        self.file = file
        self.manage = manage
        self.protect = protect
        self.assignments = assignments
        self.sriov = sriov
    }

    /// The policy when there is no policy file: nothing is managed, nothing is written.
    public static func monitorOnly(file: String = "(no policy file)") -> Policy { Policy(file: file) }

    /// No allowlist (no `[manage]` table, or every list in it empty): the agent only watches and reports.
    public var isMonitorOnly: Bool { manage.isEmpty }

    /// The allowlist rule that admits `device`, or `nil` when none does **or the device is protected**
    /// (a protected device is never managed, whatever the allowlist says).
    ///
    /// `graph` resolves `vfs_of` rules (the device's `physfn`). `serial` is the device's PCI serial number
    /// (``PCISerialNumber``); a rule that checks a serial never matches a device whose serial is unknown.
    public func isManaged(_ device: PCIDevice, in graph: TopologyGraph, serial: String? = nil) -> PolicyRule? {
        if isProtected(device, serial: serial) != nil { return nil }
        return manage.first { rule in
            if case .vfsOf(let pf) = rule.selector, graph.devices[pf]?.virtfns.contains(device.address) == true {
                return true
            }
            return rule.matches(device, serial: serial) == .matches
        }
    }

    /// The `[protect]` rule that covers `device`, or `nil`.
    ///
    /// An address rule protects the device at that address even when its `ids`/`serial` check fails:
    /// protection errs on the side of not touching.
    public func isProtected(_ device: PCIDevice, serial: String? = nil) -> PolicyRule? {
        protect.first { $0.matches(device, serial: serial) != .noMatch }
    }

    /// What the policy says about `device`, naming the rule that decided it.
    public func verdict(for device: PCIDevice, in graph: TopologyGraph, serial: String? = nil) -> PolicyVerdict {
        if let rule = isProtected(device, serial: serial) { return .protected(rule) }
        if isMonitorOnly { return .monitorOnly }
        if let rule = isManaged(device, in: graph, serial: serial) { return .managed(rule) }
        let mismatches = manage.compactMap { rule -> String? in
            if case .identityMismatch(let why) = rule.matches(device, serial: serial) { return "\(rule): \(why)" }
            return nil
        }
        return .outsideAllowlist(mismatches: mismatches)
    }

    /// The static assignment whose device is `device` (by its address rule or its ids), if any.
    public func assignment(for device: PCIDevice, serial: String? = nil) -> StaticAssignment? {
        assignments.first { $0.selector.matches(device, serial: serial) == .matches }
    }

    /// The SR-IOV rule for the physical function at `address`, if any.
    public func sriovRule(forPF address: PCIAddress) -> SRIOVRule? {
        sriov.first { $0.pf.address == address }
    }
}

/// What the policy says about one device.
public enum PolicyVerdict: Sendable, Hashable, CustomStringConvertible {
    /// Inside the allowlist and not protected.
    case managed(PolicyRule)
    /// Covered by `[protect]`: never written.
    case protected(PolicyRule)
    /// The allowlist exists and does not admit the device. `mismatches`: rules that name its address but whose
    /// `ids`/`serial` check failed.
    case outsideAllowlist(mismatches: [String])
    /// There is no allowlist: nothing is managed.
    case monitorOnly

    /// Whether the agent may write to the device.
    public var mayWrite: Bool {
        if case .managed = self { return true }
        return false
    }

    /// `managed`, `protected`, `outside-allowlist`, `monitor-only`.
    public var name: String {
        switch self {
        case .managed: "managed"
        case .protected: "protected"
        case .outsideAllowlist: "outside-allowlist"
        case .monitorOnly: "monitor-only"
        }
    }

    /// The rule that decided, if one did.
    public var rule: PolicyRule? {
        switch self {
        case .managed(let rule), .protected(let rule): rule
        case .outsideAllowlist, .monitorOnly: nil
        }
    }

    public var description: String {
        switch self {
        case .managed(let rule): "managed by \(rule)"
        case .protected(let rule): "protected by \(rule)"
        case .outsideAllowlist(let mismatches):
            mismatches.isEmpty ? "outside the allowlist (no [manage] rule matches)"
                : "outside the allowlist (" + mismatches.joined(separator: "; ") + ")"
        case .monitorOnly: "monitor-only (the policy has no [manage] allowlist)"
        }
    }
}

/// One entry of `[manage]` or `[protect]`, with where it was written, so that a refusal can name it.
public struct PolicyRule: Sendable, Hashable, CustomStringConvertible {
    /// `manage.devices[1]`, `protect.classes[0]`.
    public var path: String
    /// Where the entry is in the file, when known.
    public var position: SourcePosition?
    public var selector: DeviceSelector

    public init(path: String, position: SourcePosition? = nil, selector: DeviceSelector) {
        self.path = path
        self.position = position
        self.selector = selector
    }

    /// `manage.devices[1] (0000:03:02.0 ids 1af4:1000, line 7)`.
    public var description: String {
        let location = position.map { ", line \($0.line)" } ?? ""
        return "\(path) (\(selector)\(location))"
    }

    func matches(_ device: PCIDevice, serial: String?) -> SelectorMatch {
        selector.matches(device, serial: serial)
    }
}

/// How one rule picks devices.
public enum DeviceSelector: Sendable, Hashable, CustomStringConvertible {
    /// A device by address, optionally with the identity it must have there.
    case device(DeviceReference)
    /// Every device with these ids.
    case ids(DeviceIDs)
    /// Every device whose class code starts with these hex digits.
    case classPrefix(ClassPrefix)
    /// Every VF of this physical function (the device's `physfn` link).
    case vfsOf(PCIAddress)

    public var description: String {
        switch self {
        case .device(let reference): reference.description
        case .ids(let ids): "ids \(ids)"
        case .classPrefix(let prefix): "class \(prefix)"
        case .vfsOf(let pf): "VFs of \(pf)"
        }
    }

    func matches(_ device: PCIDevice, serial: String?) -> SelectorMatch {
        switch self {
        case .device(let reference): return reference.matches(device, serial: serial)
        case .ids(let ids): return ids.matches(device) ? .matches : .noMatch
        case .classPrefix(let prefix): return prefix.matches(device.classCode) ? .matches : .noMatch
        case .vfsOf(let pf): return device.physfn == pf ? .matches : .noMatch
        }
    }
}

enum SelectorMatch: Equatable {
    case matches
    case noMatch
    /// The address matches but the identity check does not.
    case identityMismatch(String)
}

/// A device named by address, with optional checks of what must be at that address.
public struct DeviceReference: Sendable, Hashable, CustomStringConvertible {
    public var address: PCIAddress
    /// `ids = "1af4:1000"`: the device at the address must have these ids.
    public var ids: DeviceIDs?
    /// `serial = "00-11-22-ff-fe-33-44-55"`: the device's PCI serial number (Device Serial Number capability).
    public var serial: String?

    public init(address: PCIAddress, ids: DeviceIDs? = nil, serial: String? = nil) {
        self.address = address
        self.ids = ids
        self.serial = serial
    }

    public var description: String {
        var text = address.description
        if let ids { text += " ids \(ids)" }
        if let serial { text += " serial \(serial)" }
        return text
    }

    func matches(_ device: PCIDevice, serial deviceSerial: String?) -> SelectorMatch {
        guard device.address == address else { return .noMatch }
        if let ids, !ids.matches(device) {
            return .identityMismatch("expected ids \(ids), the device has \(device.ids ?? "unknown ids")")
        }
        if let serial {
            guard let deviceSerial else { return .identityMismatch("expected serial \(serial), the device shows none") }
            guard PCISerialNumber.normalise(deviceSerial) == PCISerialNumber.normalise(serial) else {
                return .identityMismatch("expected serial \(serial), the device has \(deviceSerial)")
            }
        }
        return .matches
    }
}

/// `vendor:device` in hex, as `lspci -n` prints it, optionally with `:subvendor:subdevice`
/// (`8086:10d3:8086:a01f`): exactly four hex digits each.
public struct DeviceIDs: Sendable, Hashable, CustomStringConvertible {
    public var vendor: UInt16
    public var device: UInt16
    /// The subsystem ids (`subsystem_vendor`, `subsystem_device`) the device must also have, when given.
    public var subsystemVendor: UInt16?
    public var subsystemDevice: UInt16?

    public init(vendor: UInt16, device: UInt16, subsystemVendor: UInt16? = nil, subsystemDevice: UInt16? = nil) {
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
    }

    /// Parses `8086:100e` or `8086:100e:8086:001e`: two or four fields of exactly four hex digits. A short field
    /// (`8086:10d`) is refused, not zero-padded: it is a typo, and a padded id would match another device.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 4,
              parts.allSatisfy({ $0.utf8.count == 4 && $0.utf8.allSatisfy(isASCIIHexDigit) }) else { return nil }
        let values = parts.compactMap { UInt16($0, radix: 16) }
        guard values.count == parts.count else { return nil }
        self.init(vendor: values[0], device: values[1],
                  subsystemVendor: values.count == 4 ? values[2] : nil, subsystemDevice: values.count == 4 ? values[3] : nil)
    }

    public var description: String {
        var text = "\(hex(vendor, width: 4)):\(hex(device, width: 4))"
        if let subsystemVendor, let subsystemDevice {
            text += ":\(hex(subsystemVendor, width: 4)):\(hex(subsystemDevice, width: 4))"
        }
        return text
    }

    public func matches(_ device: PCIDevice) -> Bool {
        guard device.vendorID == vendor && device.deviceID == self.device else { return false }
        if let subsystemVendor, device.subsystemVendorID != subsystemVendor { return false }
        if let subsystemDevice, device.subsystemDeviceID != subsystemDevice { return false }
        return true
    }
}

/// `0`-`9`, `a`-`f`, `A`-`F` (Swift's `isHexDigit` also takes full-width digits).
func isASCIIHexDigit(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
}

/// The first 2, 4 or 6 hex digits of a 24-bit class code (`02` network, `0200` Ethernet, `010601` AHCI).
public struct ClassPrefix: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt32
    /// 2, 4 or 6.
    public var digits: Int

    /// Parses `0200`, `020000` or `0x0200`.
    public init?(_ text: String) {
        var digitsText = Substring(text)
        if digitsText.hasPrefix("0x") || digitsText.hasPrefix("0X") { digitsText = digitsText.dropFirst(2) }
        guard [2, 4, 6].contains(digitsText.utf8.count), digitsText.utf8.allSatisfy(isASCIIHexDigit),
              let value = UInt32(digitsText, radix: 16) else { return nil }
        self.value = value
        self.digits = digitsText.count
    }

    public var description: String { hex(value, width: digits) }

    public func matches(_ classCode: UInt32?) -> Bool {
        guard let classCode else { return false }
        return classCode >> UInt32((6 - digits) * 4) == value
    }
}

/// `[[assign]]`: a device (and with it its whole group) given to an owner.
public struct StaticAssignment: Sendable, Hashable, CustomStringConvertible {
    /// `assign[0]`.
    public var path: String
    public var position: SourcePosition?
    /// `device = ...` (a ``DeviceSelector/device(_:)``) or `ids = ...` (``DeviceSelector/ids(_:)``).
    public var selector: DeviceSelector
    /// A VM name, a pod: who the group is for.
    public var owner: String

    public init(path: String, position: SourcePosition? = nil, selector: DeviceSelector, owner: String) {
        self.path = path
        self.position = position
        self.selector = selector
        self.owner = owner
    }

    public var description: String { "\(path) (\(selector) to \(owner))" }
}

/// `[[sriov]]`: how many VFs a PF gets and which driver they go to.
public struct SRIOVRule: Sendable, Hashable {
    public var path: String
    public var position: SourcePosition?
    public var pf: DeviceReference
    public var numVFs: Int
    /// Default `vfio-pci`.
    public var vfDriver: String
    /// `manage_pf = true`: the rule may write its PF (`sriov_drivers_autoprobe`, `sriov_numvfs`) although `[manage]`
    /// does not list it. Default `false`: the PF must be inside `[manage]`.
    public var managesPF: Bool

    public init(path: String, position: SourcePosition? = nil, pf: DeviceReference, numVFs: Int, vfDriver: String = "vfio-pci",
                managesPF: Bool = false) {
        self.path = path
        self.position = position
        self.pf = pf
        self.numVFs = numVFs
        self.vfDriver = vfDriver
        self.managesPF = managesPF
    }
}
