import Sysfs
import Topology

/// Everything the planner knows: a value, so planning is a pure function of it.
public struct PlannerContext: Sendable {
    public var graph: TopologyGraph
    public var verdicts: VerdictTable
    public var assignments: AssignmentTable
    /// Drivers registered with the PCI bus (directories under `bus/pci/drivers`).
    public var loadedDrivers: Set<String>
    /// `[[sriov]]` rules: PF address → the driver its VFs are kept on.
    public var sriovRules: [PCIAddress: SRIOVRule]

    public init(graph: TopologyGraph, verdicts: VerdictTable, assignments: AssignmentTable = AssignmentTable(),
                loadedDrivers: Set<String>, sriovRules: [PCIAddress: SRIOVRule] = [:]) {
        self.graph = graph
        self.verdicts = verdicts
        self.assignments = assignments
        self.loadedDrivers = loadedDrivers
        self.sriovRules = sriovRules
    }

    /// The driver a device must be on, if anything holds it: its group's assignment, or its PF's `[[sriov]]` rule
    /// when that rule passes its gates (``Planner/sriovGates(_:pf:in:)``): a rule whose PF is not the one it names,
    /// is outside `[manage]`, protected or assigned holds no VF, so its VFs get no exemption from the allowlist.
    public func desiredDriver(of device: PCIDevice) -> (driver: String, holder: String)? {
        if let assignment = assignmentHolding(device) {
            return device.isBridge ? nil : (assignment.driverKeeping(device.address), "assigned to \(assignment.owner)")
        }
        if let rule = sriovRuleHolding(device) {
            return (rule.vfDriver, "a VF of \(rule.pf) under its [[sriov]] rule")
        }
        return nil
    }

    /// The `[[sriov]]` rule that holds `device`: its PF's rule, when the PF passes the rule's gates.
    public func sriovRuleHolding(_ device: PCIDevice) -> SRIOVRule? {
        guard let pfAddress = device.physfn, let rule = sriovRules[pfAddress], let pf = graph.devices[pfAddress],
              Planner.sriovGates(rule, pf: pf, in: self).isEmpty else { return nil }
        return rule
    }

    /// The member of the assignment holding `device` recorded at its address, when the device there now is not the
    /// one that was assigned (other ids: a hot swap, renumbered buses).
    public func assignedIdentityMismatch(_ device: PCIDevice) -> (assignment: Assignment, member: Assignment.Member)? {
        guard let assignment = assignmentHolding(device),
              let member = assignment.members.first(where: { $0.identity.address == device.address }),
              !member.identity.matches(device, serial: verdicts[device.address].serial) else { return nil }
        return (assignment, member)
    }

    /// The assignment that holds the device's group: one that lists the device, or (a device hot-plugged into an
    /// assigned group) one that lists another member of the same group in this boot.
    public func assignmentHolding(_ device: PCIDevice) -> Assignment? {
        if let direct = assignments.assignment(covering: device.address) { return direct }
        guard let group = device.iommuGroup else { return nil }
        for member in graph.groups[group]?.members ?? [] where member != device.address {
            if let assignment = assignments.assignment(covering: member) { return assignment }
        }
        return nil
    }
}

/// An `[[sriov]]` rule as the planner needs it.
public struct SRIOVRule: Sendable, Hashable, Codable {
    public var pf: PCIAddress
    public var numVFs: Int
    public var vfDriver: String
    /// The rule's `ids`: the `vendor:device` (`8086:1521`) the PF at `pf` must have, or the rule writes nothing.
    public var pfIDs: String?
    /// The rule's `serial`, normalised (``DeviceVerdict/serial``): the PF must show it, or the rule writes nothing.
    public var pfSerial: String?
    /// The rule's `manage_pf = true`: its PF may take the rule's own writes (`sriov_drivers_autoprobe`,
    /// `sriov_numvfs`) even though `[manage]` does not list it.
    public var managesPF: Bool

    public init(pf: PCIAddress, numVFs: Int, vfDriver: String = "vfio-pci", pfIDs: String? = nil, pfSerial: String? = nil,
                managesPF: Bool = false) {
        self.pf = pf
        self.numVFs = numVFs
        self.vfDriver = vfDriver
        self.pfIDs = pfIDs
        self.pfSerial = pfSerial
        self.managesPF = managesPF
    }
}
