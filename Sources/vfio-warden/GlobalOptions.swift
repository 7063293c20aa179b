import ArgumentParser
import Sysfs

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("sysfs-root"), help: ArgumentHelp(
        "The directory that plays the role of /sys: a snapshot (directory or tarball) or a simulated tree.",
        valueName: "dir"))
    var sysfsRoot: String = "/sys"

    init() {}

    /// Options naming `sysfsRoot`, for commands that take the root in their own option.
    init(sysfsRoot: String) {
        self.sysfsRoot = sysfsRoot
    }

    /// The root as given. A tarball is not readable as it is: use ``resolvedRoot()``.
    var root: SysfsRoot { SysfsRoot(sysfsRoot) }

    /// The root to read, unpacking a snapshot tarball into a temporary directory first (removed at exit).
    func resolvedRoot() throws -> ResolvedSysfsRoot {
        guard Tarball.isTarball(sysfsRoot) else { return ResolvedSysfsRoot(root: root, temporary: nil) }
        let directory = try Tarball.temporaryDirectory(prefix: "vfio-warden-root")
        do {
            try Tarball.unpack(sysfsRoot, into: directory)
        } catch {
            Tarball.remove(directory)
            throw CommandFailure("cannot unpack --sysfs-root \(sysfsRoot): \(error)")
        }
        return ResolvedSysfsRoot(root: SysfsRoot(directory), temporary: directory)
    }
}

/// A sysfs root ready to read; removes the directory a tarball was unpacked into when released.
final class ResolvedSysfsRoot {
    let root: SysfsRoot
    private let temporary: String?

    init(root: SysfsRoot, temporary: String?) {
        self.root = root
        self.temporary = temporary
    }

    deinit {
        if let temporary { Tarball.remove(temporary) }
    }
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
