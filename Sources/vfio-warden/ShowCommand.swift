import ArgumentParser
import Reports
import Sysfs
import Topology

/// `vfio-warden show ADDRESS`: one device and its whole group.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one PCI device and every member of its IOMMU group.",
        discussion: "ADDRESS may be full (0000:03:01.0) or short (03:01.0, domain 0)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: FormatOptions

    @Argument(help: ArgumentHelp("The PCI address of the device.", valueName: "address"))
    var address: String

    func validate() throws {
        do {
            _ = try PCIAddress.parse(address)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let parsed = try PCIAddress.parse(address)
        let root = try global.resolvedRoot()
        let graph = try scanGraph(root.root)
        let report: DeviceDetailReport
        do {
            report = try DeviceDetailReport(parsed, in: graph)
        } catch {
            throw CommandFailure("\(error) (sysfs root \(global.sysfsRoot))")
        }
        switch format.format {
        case .table: StandardOutput.write(TableRenderer.render(report))
        case .json: StandardOutput.write(try JSONRendering.encode(report))
        case .xml: StandardOutput.write(LibvirtXML.render(report))
        }
    }
}
