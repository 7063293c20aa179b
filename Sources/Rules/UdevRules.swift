import Policy
import Sysfs
import Topology

/// Generates `70-vfio-warden.rules`: udev rules that keep host drivers off the devices the policy isolates,
/// from the moment the kernel announces them (`ACTION=="add"`), before the agent is even running.
///
/// What the rules do, and why they match what they match:
/// - IOMMU group numbers are not stable across boots, so no rule names one. Each `[[assign]]` device is matched by
///   its address (`KERNEL=="0000:01:00.0"`) and, where known, its `ATTR{vendor}`/`ATTR{device}`: a different card
///   in that slot after a hardware change is left alone. Its group siblings come from a scan of sysfs at generation
///   time and are matched the same way; bridges are left on `pcieport`, as the planner leaves them.
/// - VFs of an `[[sriov]]` PF do not exist at boot and their addresses depend on the PF's First VF Offset and VF
///   Stride (which may change with `sriov_numvfs`). udev cannot match a VF on its PF with `ATTRS{}` (that walks the
///   sysfs *parent* chain, and a VF's parent is the PF's upstream port, not the PF) and `ATTR{physfn}` reads nothing
///   (udev returns the value of only the `driver`, `subsystem` and `module` links). So the VF rule tests for the
///   `physfn` link and resolves it with `PROGRAM=="/bin/readlink -f /sys$devpath/physfn"`, matching
///   `RESULT=="*/<pf address>"`. That matches every VF the PF will ever have, whatever its routing id.
/// - The PF itself gets `ATTR{sriov_drivers_autoprobe}="0"`, so that no driver is probed for its VFs when they are
///   created; the VF rule then sets `driver_override` and asks for a probe (`drivers_probe`), which binds the VF
///   to the VF driver only.
/// - `driver_override` is written with `ATTR{driver_override}=`; a `RUN+=` loads the driver's module and writes
///   the device's address to `/sys/bus/pci/drivers_probe` so that it binds now when the driver was already loaded
///   (otherwise loading the module probes it).
/// - The rules are numbered 70, before `80-drivers.rules`, which loads the host driver's module from the modalias:
///   a driver that is built in or already loaded can still win the race (the kernel probes right after sending the
///   uevent); the agent's enforcement then takes the device back, and for such drivers `vfio-pci.ids=` on the
///   kernel command line is the only way to win it.
/// - A device the agent would never write (protected, outside `[manage]`, or a policy without `[manage]`) gets no
///   rule; neither does a group with such a member: the whole group is isolated or none of it. As in the planner,
///   an `[[sriov]]` rule is itself the permission for its PF and VFs; only `[protect]` overrides it.
public struct UdevRulesGenerator: Sendable {
    public let policy: Policy
    /// sysfs as it is now, for group siblings and ids; `nil` when it could not be read (only the devices the
    /// policy names get rules then).
    public let graph: TopologyGraph?

    public init(policy: Policy, graph: TopologyGraph?) {
        self.policy = policy
        self.graph = graph
    }

    /// The rules file: its text, and one warning per device or rule left out or not fully checkable.
    public struct Output: Sendable, Equatable {
        public var text: String
        public var warnings: [String]
    }

    /// Where the rules file goes: `pkg-config --variable=udevdir udev` or `/usr/lib/udev`, then `rules.d`.
    public static let fileName = "70-vfio-warden.rules"

    /// One `KERNEL==` rule: a device to put on `driver` when it is added.
    struct DeviceRule: Equatable {
        var address: PCIAddress
        var vendor: UInt16?
        var device: UInt16?
        var driver: String
    }

    /// `policyPath` and `command` go into the header (how to regenerate the file).
    public func generate(policyPath: String, command: String) -> Output {
        var warnings: [String] = []
        var body: [String] = []

        if policy.isMonitorOnly {
            warnings.append("the policy has no [manage] allowlist (monitor-only): no device gets a rule")
        }
        if graph == nil {
            warnings.append("sysfs was not scanned (--no-scan, or unreadable): group siblings of [[assign]] devices are not included (the agent isolates them when it starts)")
        }

        // [[sriov]]: the PF's autoprobe off, every VF to its VF driver.
        if !policy.isMonitorOnly {
            for rule in policy.sriov {
                body.append(contentsOf: sriovLines(rule, warnings: &warnings))
            }
        }

        // [[assign]]: each device and its group siblings.
        var covered = Set<PCIAddress>()
        if !policy.isMonitorOnly {
            for assignment in policy.assignments {
                body.append(contentsOf: assignLines(assignment, covered: &covered, warnings: &warnings))
            }
        }

        var lines = header(policyPath: policyPath, command: command)
        lines.append("ACTION!=\"add\", GOTO=\"vfio_warden_end\"")
        lines.append("SUBSYSTEM!=\"pci\", GOTO=\"vfio_warden_end\"")
        lines.append("")
        if body.isEmpty {
            lines.append("# The policy isolates no device at boot: no rules.")
            lines.append("")
        }
        lines.append(contentsOf: body)
        lines.append("LABEL=\"vfio_warden_end\"")
        return Output(text: lines.joined(separator: "\n") + "\n", warnings: warnings)
    }

    // MARK: Pieces

    func header(policyPath: String, command: String) -> [String] {
        // One comment line each, whatever a path contains.
        let policyPath = policyPath.split(whereSeparator: \.isNewline).joined(separator: " ")
        let command = command.split(whereSeparator: \.isNewline).joined(separator: " ")
        return [
            "# \(Self.fileName): generated by vfio-warden \(UdevRulesGenerator.formatVersion) from \(policyPath).",
            "# Do not edit: change the policy and regenerate with",
            "#   \(command)",
            "# then install it in $(pkg-config --variable=udevdir udev)/rules.d (or /usr/lib/udev/rules.d) and run",
            "#   udevadm control --reload",
            "#",
            "# At `add` of a PCI device the policy isolates, driver_override is set to vfio-pci (or the [[sriov]]",
            "# vf_driver) before a host driver's module is loaded by 80-drivers.rules, and the device is probed.",
            "# Devices are matched by address and vendor/device ids (IOMMU group numbers change across boots);",
            "# a group's siblings were read from sysfs when this file was generated: regenerate after a hardware change.",
            "# VFs are matched by their physfn link (resolved with readlink), so every VF the PF creates is covered.",
            "# Managed PFs get sriov_drivers_autoprobe=0: creating VFs probes no driver for them.",
            "",
        ]
    }

    /// The version of the generator's output, in the header (bumped when the rules' shape changes).
    static let formatVersion = "rules v1"

    func sriovLines(_ rule: SRIOVRule, warnings: inout [String]) -> [String] {
        let pf = rule.pf.address
        let scanned = graph?.devices[pf]
        // As the planner (Planner.sriovGates): the rule may write its PF's sriov_* attributes and hold its VFs on
        // vf_driver only when the PF is inside [manage] or the rule says manage_pf = true, is not protected, and the
        // policy is not monitor-only.
        if let verdict = protection(pf) ?? (policy.isMonitorOnly ? "the policy is monitor-only" : nil)
            ?? (rule.managesPF || isManaged(pf) ? nil : "it is outside the allowlist ([manage]) and the rule does not say manage_pf = true") {
            warnings.append("\(rule.path): PF \(pf) gets no rule: \(verdict)")
            return ["# \(rule.path): PF \(pf): no rule, \(verdict).", ""]
        }
        var ids = (vendor: rule.pf.ids?.vendor ?? scanned?.vendorID, device: rule.pf.ids?.device ?? scanned?.deviceID)
        if let expected = rule.pf.ids, let scanned, let actual = scanned.ids, !expected.matches(scanned) {
            warnings.append("\(rule.path): PF \(pf) is \(actual) in sysfs, the policy expects \(expected): the rule checks \(expected)")
            ids = (expected.vendor, expected.device)
        }
        var lines = ["# \(rule.path): PF \(pf), \(rule.numVFs) VFs to \(rule.vfDriver) (sriov_numvfs is written by the agent once the PF's driver is bound)."]
        lines.append(matchKeys(pf, vendor: ids.vendor, device: ids.device) + ", ATTR{sriov_drivers_autoprobe}=\"0\"")
        guard Self.isDriverName(rule.vfDriver) else {
            warnings.append("\(rule.path): vf_driver \"\(rule.vfDriver)\" is not a driver name: no rules for \(pf)")
            return ["# \(rule.path): PF \(pf): no rule, vf_driver is not a driver name.", ""]
        }
        lines.append("# Its VFs: udev cannot match a VF on its PF with ATTRS (a VF's sysfs parent is the PF's upstream port),")
        lines.append("# so the physfn link is resolved.")
        lines.append("TEST==\"physfn\", PROGRAM==\"/bin/readlink -f /sys$devpath/physfn\", RESULT==\"*/\(pf)\", "
                     + assignKeys(driver: rule.vfDriver))
        lines.append("")
        return lines
    }

    func assignLines(_ assignment: StaticAssignment, covered: inout Set<PCIAddress>, warnings: inout [String]) -> [String] {
        var lines = ["# \(assignment.path): \(assignment.selector) to \(assignment.owner)."]
        let named: [PCIDevice] = graph.map { graph in
            graph.sortedDevices.filter { policy.assignment(for: $0)?.path == assignment.path }
        } ?? []

        if named.isEmpty {
            // Not present now (or no scan): a rule for what the policy itself names.
            switch assignment.selector {
            case .device(let reference):
                if let why = graphFreeBlock(reference.address) {
                    warnings.append("\(assignment.path): \(reference.address) gets no rule: \(why)")
                    lines.append("# \(reference.address): no rule, \(why).")
                } else if !covered.contains(reference.address) {
                    covered.insert(reference.address)
                    if graph != nil {
                        warnings.append("\(assignment.path): \(reference.address) is not in sysfs now: its group siblings are not known")
                    }
                    lines.append(graph == nil
                        ? "# sysfs was not read (--no-scan): the group siblings of \(reference.address) are not covered."
                        : "# \(reference.address) was not present when this file was generated: its group siblings are not covered.")
                    lines.append(deviceRule(DeviceRule(address: reference.address, vendor: reference.ids?.vendor,
                                                       device: reference.ids?.device, driver: "vfio-pci")))
                }
            case .ids(let ids):
                warnings.append("\(assignment.path): no device with ids \(ids) is in sysfs now: matched by ids alone, without group siblings")
                lines.append("# No device with ids \(ids) was present when this file was generated: matched by ids, wherever it appears.")
                var match = "ATTR{vendor}==\"\(hex0x(ids.vendor))\", ATTR{device}==\"\(hex0x(ids.device))\", "
                if let subsystemVendor = ids.subsystemVendor, let subsystemDevice = ids.subsystemDevice {
                    match += "ATTR{subsystem_vendor}==\"\(hex0x(subsystemVendor))\", ATTR{subsystem_device}==\"\(hex0x(subsystemDevice))\", "
                }
                lines.append(match + assignKeys(driver: "vfio-pci"))
            case .classPrefix, .vfsOf:
                lines.append("# (an [[assign]] names a device or ids only)")
            }
            lines.append("")
            return lines
        }

        guard let graph else { return lines }
        var groupsDone = Set<Int>()
        for device in named {
            guard let number = device.iommuGroup else {
                warnings.append("\(assignment.path): \(device.address) has no IOMMU group (no IOMMU?): no rule")
                lines.append("# \(device.address): no rule, it has no IOMMU group (is the IOMMU on?).")
                continue
            }
            guard groupsDone.insert(number).inserted else { continue }
            let members = graph.members(ofGroup: number)
            let written = members.filter { !($0.isBridge && ($0.driver == nil || $0.driver == "pcieport")) }
            let blocked = written.compactMap { member -> String? in
                switch policy.verdict(for: member, in: graph) {
                case .managed: return nil
                case .protected(let rule): return "\(member.address) is protected by \(rule)"
                case .outsideAllowlist: return "\(member.address) is outside the allowlist"
                case .monitorOnly: return "the policy is monitor-only"
                }
            }
            let memberList = members.map(\.address.description).joined(separator: ", ")
            if !blocked.isEmpty {
                let why = blocked.joined(separator: "; ")
                warnings.append("\(assignment.path): the group of \(device.address) (\(memberList)) gets no rule: \(why)")
                lines.append("# The group of \(device.address) (\(memberList)) gets no rule: \(why).")
                continue
            }
            lines.append("# The group of \(device.address) when generated (group \(number) then): \(memberList).")
            for member in members {
                if !written.contains(member) {
                    lines.append("# \(member.address): a bridge, stays on \(member.driver ?? "no driver").")
                    continue
                }
                guard covered.insert(member.address).inserted else { continue }
                var vendor = member.vendorID, deviceID = member.deviceID
                if member.address == device.address, case .device(let reference) = assignment.selector, let ids = reference.ids {
                    vendor = ids.vendor
                    deviceID = ids.device
                }
                lines.append(deviceRule(DeviceRule(address: member.address, vendor: vendor, device: deviceID,
                                                   driver: "vfio-pci")))
            }
        }
        lines.append("")
        return lines
    }

    /// The `[protect]` rule that covers the device at `address` (by the scan, or by an address rule without one).
    /// Whether `[manage]` admits the PF at `address`: by its verdict when it is in the scan, else by an address rule.
    func isManaged(_ address: PCIAddress) -> Bool {
        if let graph, let device = graph.devices[address] { return policy.isManaged(device, in: graph) != nil }
        return policy.manage.contains {
            if case .device(let reference) = $0.selector { reference.address == address } else { false }
        }
    }

    func protection(_ address: PCIAddress) -> String? {
        if let graph, let device = graph.devices[address] {
            return policy.isProtected(device).map { "protected by \($0)" }
        }
        return policy.protect.first(where: {
            if case .device(let reference) = $0.selector { reference.address == address } else { false }
        }).map { "protected by \($0)" }
    }

    /// Why the agent would never write to `address`, decidable without the device (protected by address, no
    /// allowlist), or the device's verdict when it is in the scan.
    func graphFreeBlock(_ address: PCIAddress) -> String? {
        if let graph, let device = graph.devices[address] {
            switch policy.verdict(for: device, in: graph) {
            case .managed: return nil
            case .protected(let rule): return "protected by \(rule)"
            case .outsideAllowlist: return "outside the allowlist"
            case .monitorOnly: return "the policy is monitor-only"
            }
        }
        if policy.isMonitorOnly { return "the policy is monitor-only" }
        if let rule = policy.protect.first(where: {
            if case .device(let reference) = $0.selector { reference.address == address } else { false }
        }) {
            return "protected by \(rule)"
        }
        return nil
    }

    func deviceRule(_ rule: DeviceRule) -> String {
        matchKeys(rule.address, vendor: rule.vendor, device: rule.device) + ", " + assignKeys(driver: rule.driver)
    }

    func matchKeys(_ address: PCIAddress, vendor: UInt16?, device: UInt16?) -> String {
        var keys = "KERNEL==\"\(address)\""
        if let vendor { keys += ", ATTR{vendor}==\"\(hex0x(vendor))\"" }
        if let device { keys += ", ATTR{device}==\"\(hex0x(device))\"" }
        return keys
    }

    /// `driver_override`, then (after every rule) the module and a probe.
    func assignKeys(driver: String) -> String {
        precondition(Self.isDriverName(driver), "driver names are [A-Za-z0-9_-]")
        return "ATTR{driver_override}=\"\(driver)\", "
            + "RUN+=\"/bin/sh -c '/sbin/modprobe -q \(driver); echo $kernel > /sys/bus/pci/drivers_probe'\""
    }

    /// A kernel driver name as it may appear unquoted in a rule and a shell command: `[A-Za-z0-9_-]+`.
    static func isDriverName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// `0x8086`, as sysfs prints `vendor` and `device`.
    func hex0x(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
