import ArgumentParser
import SimulatedKernel
import Simulation
import Sysfs

/// `vfio-warden example-tree DIR`: writes a built-in example host as a sysfs tree, to try every command
/// with `--sysfs-root DIR` on a machine without passthrough hardware, and for benchmarks.
struct ExampleTreeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-tree",
        abstract: "Write a built-in example host as a sysfs tree that --sysfs-root can read.",
        discussion: """
            q35: a QEMU q35 host (boot VGA, an e1000e behind a root port, an SR-IOV NVMe, an e1000 and a \
            virtio-net behind one PCIe-to-PCI bridge, and the chipset group holding the AHCI SATA controller \
            that carries the host's disk).
            generated: --groups groups of --per-group functions each (a root port and its endpoints), for benchmarks.
            """
    )

    enum Host: String, ExpressibleByArgument, CaseIterable { case q35, generated }

    @Argument(help: ArgumentHelp("Directory to create (must not exist, or be empty).", valueName: "dir"))
    var directory: String

    @Option(help: "Which host to write.")
    var host: Host = .q35

    @Option(help: "With --host generated: number of IOMMU groups.")
    var groups: Int = 1024

    @Option(name: .customLong("per-group"), help: "With --host generated: functions per group (a root port and endpoints).")
    var perGroup: Int = 4

    @Flag(name: .customLong("no-iommu"), help: "Write the host as booted without an IOMMU (no groups).")
    var noIOMMU = false

    @Flag(name: .customLong("with-proc"), help: ArgumentHelp(
        "With --host q35: also write the host's /proc files (its disk sda mounted at /) in proc/ beside DIR (D/proc for "
            + "D/sys), where commands given --sysfs-root DIR look for them."))
    var withProc = false

    func validate() throws {
        guard groups > 0 else { throw ValidationError("--groups must be at least 1") }
        guard (1...257).contains(perGroup) else { throw ValidationError("--per-group must be between 1 and 257") }
        let root = SysfsRoot(directory)
        if root.existsWithoutFollowing(""), let entries = try? root.list(""), !entries.isEmpty {
            throw ValidationError("\(directory) exists and is not empty; give a new directory")
        }
        if withProc {
            guard host == .q35 else { throw ValidationError("--with-proc: only the q35 host has /proc files (it has a disk)") }
            let proc = StateLocations.proc(given: nil, sysfsRoot: directory).path
            if SysfsRoot(proc).existsWithoutFollowing("") {
                throw ValidationError("--with-proc: \(proc) exists already; give a DIR whose parent has no proc/")
            }
        }
    }

    func run() throws {
        var specs = host == .q35 ? ExampleHosts.q35 : ExampleHosts.generated(groups: groups, perGroup: perGroup)
        if noIOMMU { specs = specs.map { var spec = $0; spec.iommuGroup = nil; return spec } }
        try ExampleHosts.build(specs, at: SysfsRoot(directory))
        var written = "wrote \(specs.count) PCI devices to \(directory)"
        if withProc {
            let proc = StateLocations.proc(given: nil, sysfsRoot: directory).path
            try SimulationHost.writeExampleProc(at: proc)
            written += " and the host's /proc files to \(proc)"
        }
        StandardOutput.write("\(written); try: vfio-warden list --sysfs-root \(directory)\n")
    }
}
