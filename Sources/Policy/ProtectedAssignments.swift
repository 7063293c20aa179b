import Sysfs
import Topology

extension Policy {
    /// `[[assign]]` entries that would take a `[protect]`ed device, found against a scanned tree: the assigned
    /// device itself, or a member of its IOMMU group (the whole group follows an assignment). Each error is at the
    /// `[[assign]]` entry and names the `[protect]` rule with its line, so both lines are in the message.
    ///
    /// The static half (an `[[assign]]` address that a `[protect] devices` entry names) is already refused by
    /// ``parse(text:file:)``; this finds what only the tree shows (a class or ids rule, a group sibling).
    public func protectedAssignments(in graph: TopologyGraph, serials: [PCIAddress: String] = [:]) -> [PolicyError] {
        var errors: [PolicyError] = []
        for assignment in assignments {
            let assigned = graph.devices.values
                .filter { assignment.selector.matches($0, serial: serials[$0.address]) == .matches }
                .sorted { $0.address < $1.address }
            for device in assigned {
                let members = device.iommuGroup.map { graph.members(ofGroup: $0) } ?? [device]
                for member in members where member.address == device.address || !member.isBridge {
                    guard let rule = isProtected(member, serial: serials[member.address]) else { continue }
                    let whom = member.address == device.address
                        ? "\(device.address) is protected"
                        : "\(device.address)'s IOMMU group \(device.iommuGroup.map(String.init) ?? "?") holds \(member.address), which is protected"
                    let line = assignment.position.map { " (line \($0.line))" } ?? ""
                    errors.append(PolicyError(
                        kind: .conflict, file: file, position: assignment.position, path: assignment.path,
                        message: "\(assignment.path)\(line) assigns \(device.address) to \(escapedForTerminal(assignment.owner)), but \(whom) "
                            + "by \(rule): the assignment would be refused; remove one of the two"))
                }
            }
        }
        return errors
    }
}
