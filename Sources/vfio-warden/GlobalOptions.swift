import ArgumentParser
import Sysfs

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("sysfs-root"), help: ArgumentHelp(
        "The directory that plays the role of /sys (a snapshot or a simulated tree).", valueName: "dir"))
    var sysfsRoot: String = "/sys"

    var root: SysfsRoot { SysfsRoot(sysfsRoot) }
}

/// The output format shared by `list` and `show`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, xml
}

struct FormatOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Flag(name: .long, help: "Print libvirt's node-device <iommuGroup> XML instead of a table.")
    var xml = false

    func validate() throws {
        if json && xml { throw ValidationError("--json and --xml cannot be combined") }
    }

    var format: OutputFormat { json ? .json : xml ? .xml : .table }
}
