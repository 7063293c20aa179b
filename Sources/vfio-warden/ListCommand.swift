import ArgumentParser
import Reports
import Sysfs
import Topology

/// `vfio-warden list`: every IOMMU group with its members and viability.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every IOMMU group, its members and whether it could be assigned.",
        discussion: """
            A group is viable when every endpoint is on a vfio driver, pci-stub or no driver, and every bridge \
            on pcieport or no driver: only then can a guest be given any of its devices. The reasons name each \
            member in the way. Devices that cannot be read completely are still listed, with their problems.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: FormatOptions

    func run() throws {
        let root = try global.resolvedRoot()
        let graph = try scanGraph(root.root)
        let report = TopologyReport(graph)
        switch format.format {
        case .table: StandardOutput.write(TableRenderer.render(report))
        case .json: StandardOutput.write(try JSONRendering.encode(report))
        case .xml: StandardOutput.write(LibvirtXML.render(report))
        }
    }
}

/// Scans the tree, turning a missing `bus/pci/devices` into an error that says what the root should be.
func scanGraph(_ root: SysfsRoot) throws -> TopologyGraph {
    do {
        return try TopologyGraph.scan(root: root)
    } catch {
        throw CommandFailure("cannot list PCI devices under sysfs root \(root): \(error) (is it a sysfs tree or a snapshot?)")
    }
}

/// An error whose text is the whole message shown to the user (`Error: …`, exit status 1).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
