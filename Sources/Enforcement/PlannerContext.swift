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

    /// The driver a device must be on, if anything holds it: its group's assignment, or its PF's `[[sriov]]` rule.
    public func desiredDriver(of device: PCIDevice) -> (driver: String, holder: String)? {
        if let assignment = assignmentHolding(device) {
            return device.isBridge ? nil : (assignment.driverKeeping(device.address), "assigned to \(assignment.owner)")
        }
        if let pf = device.physfn, let rule = sriovRules[pf] {
            return (rule.vfDriver, "a VF of \(pf) under its [[sriov]] rule")
        }
        return nil
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

    public init(pf: PCIAddress, numVFs: Int, vfDriver: String = "vfio-pci") {
        self.pf = pf
        self.numVFs = numVFs
        self.vfDriver = vfDriver
    }
}
