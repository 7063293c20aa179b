import Testing
import Sysfs
import Topology
import SimulatedKernel
@testable import Reports

/// `list` and `show` output, in all three formats, against golden files.
@Suite struct TopologyReportGoldenTests {
    enum Host: String, CaseIterable { case q35, q35WithVFs = "q35-vfs", noIOMMU = "no-iommu", damaged }

    /// Builds one of the example situations and scans it.
    func graph(_ host: Host, at path: String) throws -> TopologyGraph {
        let root = SysfsRoot(path)
        switch host {
        case .q35:
            try ExampleHosts.build(ExampleHosts.q35, at: root)
        case .q35WithVFs:
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            try kernel.setNumVFs(.literal("0000:02:00.0"), to: 2)
            try kernel.unbind(.literal("0000:02:00.1"))
            try kernel.bind(.literal("0000:02:00.1"), driver: "vfio-pci")
            try kernel.tree.writeFile("\(try kernel.tree.deviceDirectory(.literal("0000:02:00.1")))/driver_override", "vfio-pci\n")
        case .noIOMMU:
            try ExampleHosts.build(ExampleHosts.q35WithoutIOMMU, at: root)
        case .damaged:
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            try tree.writeFile("\(try tree.deviceDirectory(.literal("0000:03:01.0")))/vendor", "0x80")
            try tree.symlink("\(try tree.deviceDirectory(.literal("0000:02:00.0")))/driver", to: "bus/pci/drivers/gone")
            try tree.makeDirectory("bus/pci/devices/not-an-address")
        }
        return try TopologyGraph.scan(root: root)
    }

    @Test(arguments: Host.allCases)
    func listInEveryFormat(host: Host) throws {
        try withTemporaryRoot { path in
            let report = TopologyReport(try graph(host, at: path))
            try expectGolden(TableRenderer.render(report), "list-\(host.rawValue).txt")
            try expectGolden(try JSONRendering.render(report), "list-\(host.rawValue).json")
            try expectGolden(LibvirtXML.render(report), "list-\(host.rawValue).xml")
        }
    }

    @Test(arguments: [("q35", "0000:03:01.0"), ("q35", "0000:00:1f.2"), ("q35-vfs", "0000:02:00.0"),
                      ("q35-vfs", "0000:02:00.1"), ("no-iommu", "0000:01:00.0")])
    func showInEveryFormat(host: String, address: String) throws {
        try withTemporaryRoot { path in
            let graph = try graph(Host(rawValue: host)!, at: path)
            let report = try DeviceDetailReport(.literal(address), in: graph)
            let name = "show-\(host)-\(address.replacingOccurrences(of: ":", with: "_"))"
            try expectGolden(TableRenderer.render(report), "\(name).txt")
            try expectGolden(try JSONRendering.render(report), "\(name).json")
            try expectGolden(LibvirtXML.render(report), "\(name).xml")
        }
    }

    @Test func showOfAnUnknownDeviceNamesIt() throws {
        try withTemporaryRoot { path in
            let graph = try graph(.q35, at: path)
            #expect {
                try DeviceDetailReport(.literal("0000:09:00.0"), in: graph)
            } throws: { error in
                (error as? UnknownDeviceError)?.description == "no PCI device 0000:09:00.0 under bus/pci/devices"
            }
        }
    }

    @Test func xmlAddressesAreLibvirtsShape() {
        #expect(LibvirtXML.address(.literal("0000:03:01.0")) == "<address domain='0x0000' bus='0x03' slot='0x01' function='0x0'/>")
        #expect(LibvirtXML.escape("a<b>&'\"") == "a&lt;b&gt;&amp;&apos;&quot;")
    }
}
