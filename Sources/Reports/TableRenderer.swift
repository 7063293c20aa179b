import Sysfs
import Topology

/// The human view of `list` and `show`: a header, then per group a line with its viability and one row per
/// member, columns aligned across the whole output. Every value read from sysfs (a driver name, a
/// `driver_override`, a problem) is shown through ``escapedForTerminal(_:)``: a control character in it is printed
/// as an escape, never passed to the terminal.
public enum TableRenderer {
    static let headers = ["ADDRESS", "IDS", "CLASS", "DRIVER", "OVERRIDE", "ROLE"]

    /// `list`: every group, then devices without a group, then problems with the tree.
    public static func render(_ report: TopologyReport) -> String {
        var sections: [(String, [DeviceReport], [String])] = report.groups.map { group in
            (groupHeading(group), group.devices, group.viability.reasons)
        }
        if !report.ungrouped.isEmpty {
            sections.append(("No IOMMU group (is the IOMMU enabled? intel_iommu=on / amd_iommu=on)", report.ungrouped, []))
        }
        var output = renderSections(sections)
        if !report.problems.isEmpty {
            output += "\nProblems with the tree:\n" + report.problems.map { "  \(escapedForTerminal($0))\n" }.joined()
        }
        if report.groups.isEmpty && report.ungrouped.isEmpty {
            output += "No PCI devices.\n"
        }
        return output
    }

    /// `show`: the device's own details, then its whole group.
    public static func render(_ report: DeviceDetailReport) -> String {
        let device = report.device.device
        var lines: [String] = []
        func field(_ name: String, _ value: String?) {
            lines.append("\(name.padding(toLength: 18))\(value.map(escapedForTerminal) ?? "-")")
        }
        field("Address:", device.address.description)
        field("Vendor:Device:", device.ids)
        field("Subsystem:", device.subsystemVendorID.flatMap { vendor in
            device.subsystemDeviceID.map { "\(hex(vendor, width: 4)):\(hex($0, width: 4))" } })
        field("Class:", device.classCode.map { "\(hex($0, width: 6)) (\(PCIClassNames.name(of: $0)))" })
        field("Driver:", device.driver)
        field("Driver override:", device.driverOverride)
        field("IOMMU group:", device.iommuGroup.map(String.init))
        field("Role:", report.device.role)
        if let parent = device.parent { field("Behind bridge:", parent.description) }
        if let sriov = device.sriov {
            field("SR-IOV:", "\(sriov.numVFs) of \(sriov.totalVFs) VFs, drivers_autoprobe \(sriov.driversAutoprobe.map { $0 ? "1" : "0" } ?? "?")")
            if !device.virtfns.isEmpty { field("VFs:", device.virtfns.map(\.description).joined(separator: " ")) }
        }
        for problem in device.problems { field("Problem:", problem.description) }
        var output = lines.joined(separator: "\n") + "\n\n"
        if let group = report.group {
            output += renderSections([(groupHeading(group), group.devices, group.viability.reasons)])
        } else {
            output += "Not in an IOMMU group: it cannot be assigned with VFIO on this host.\n"
        }
        return output
    }

    static func groupHeading(_ group: GroupReport) -> String {
        let members = group.devices.count == 1 ? "1 device" : "\(group.devices.count) devices"
        return "IOMMU group \(group.number) (\(members)): " + (group.viability.viable ? "viable" : "not viable")
    }

    static func row(_ report: DeviceReport) -> [String] {
        let device = report.device
        let className = device.className ?? "?"
        return [device.address.description, device.ids ?? "?", className, device.driver ?? "-", device.driverOverride ?? "-", report.role]
            .map(escapedForTerminal)
    }

    static func renderSections(_ sections: [(String, [DeviceReport], [String])]) -> String {
        let rows = sections.flatMap { $0.1.map(row) }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = "    "
            for (index, cell) in cells.enumerated() {
                text += index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2)
            }
            return text + "\n"
        }
        var output = line(headers)
        for (heading, devices, reasons) in sections {
            output += heading + "\n"
            for device in devices {
                output += line(row(device))
                for problem in device.device.problems { output += "        problem: \(escapedForTerminal(problem.description))\n" }
            }
            for reason in reasons { output += "    why not viable: \(escapedForTerminal(reason))\n" }
        }
        return output
    }
}

extension String {
    /// The string padded with spaces on the right to `length` characters (never truncated).
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
