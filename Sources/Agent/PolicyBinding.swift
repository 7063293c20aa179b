import Enforcement
import Policy
import Sysfs
import Topology

/// Turns the policy file and the host-use analysis into what the planner reads: a verdict per device,
/// the `[[sriov]]` rules and the `[[assign]]` rules, for one graph.
public struct PolicyBinding: Sendable {
    public let policy: Policy
    public let sysfs: SysfsRoot
    /// Where `self/mountinfo`, `swaps` and `net/*` are read for host-use analysis.
    public let proc: SysfsRoot

    public init(policy: Policy, sysfs: SysfsRoot, proc: SysfsRoot) {
        self.policy = policy
        self.sysfs = sysfs
        self.proc = proc
    }

    /// The policy's and the host's word on every device of `graph`. Reads sysfs and proc (host-use analysis, and
    /// PCI serial numbers when a rule checks one), so callers cache it between changes of the device set.
    public func verdicts(for graph: TopologyGraph) -> VerdictTable {
        let hostUse = HostUseAnalysis.analyse(graph: graph, sysfs: sysfs, proc: proc, options: policy.hostUse)
        let checksSerials = (policy.manage + policy.protect).contains { "\($0)".contains("serial") }
            || policy.assignments.contains { "\($0)".contains("serial") }
            || policy.sriov.contains { $0.pf.serial != nil }
        var verdicts: [PCIAddress: DeviceVerdict] = [:]
        for device in graph.devices.values {
            let serial = checksSerials ? PCISerialNumber.read(device.address, root: sysfs) : nil
            var verdict = DeviceVerdict()
            switch policy.verdict(for: device, in: graph, serial: serial) {
            case .managed(let rule): verdict.managedBy = rule.description
            case .protected(let rule): verdict.protectedBy = rule.description
            case .outsideAllowlist, .monitorOnly: break
            }
            verdict.hostUse = hostUse.verdict(for: device.address).reasons.map(\.description)
            verdict.serial = serial.map(PCISerialNumber.normalise)
            verdicts[device.address] = verdict
        }
        return VerdictTable(verdicts, hasAllowlist: !policy.isMonitorOnly)
    }

    /// Host use of `addresses` only, read now: what the engine asks for the devices a plan is about to write
    /// (``Engine/Configuration/hostUse``). The policy's verdicts are not recomputed.
    public func hostUse(of addresses: Set<PCIAddress>, in graph: TopologyGraph) -> [PCIAddress: [String]] {
        let analysis = HostUseAnalysis.analyse(graph: graph, sysfs: sysfs, proc: proc)
        var result: [PCIAddress: [String]] = [:]
        for address in addresses { result[address] = analysis.verdict(for: address).reasons.map(\.description) }
        return result
    }

    /// The `[[sriov]]` rules as the planner takes them, with the PF's identity (`ids`, `serial`) the rule names.
    public var sriovRules: [Enforcement.SRIOVRule] {
        policy.sriov.map {
            Enforcement.SRIOVRule(pf: $0.pf.address, numVFs: $0.numVFs, vfDriver: $0.vfDriver, pfIDs: $0.pf.ids?.description,
                                  pfSerial: $0.pf.serial.map(PCISerialNumber.normalise), managesPF: $0.managesPF)
        }
    }

    /// The `[[assign]]` rules resolved against `graph`: the devices each one names, and their owner.
    public func staticAssignments(in graph: TopologyGraph) -> [Engine.StaticAssignment] {
        policy.assignments.compactMap { rule in
            let devices = graph.sortedDevices.filter { policy.assignment(for: $0)?.path == rule.path }.map(\.address)
            return devices.isEmpty ? nil : Engine.StaticAssignment(devices: devices, owner: rule.owner, rule: rule.path)
        }
    }
}
