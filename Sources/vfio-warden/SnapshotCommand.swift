import ArgumentParser
import Sysfs

/// `vfio-warden snapshot OUT`: the PCI part of sysfs, copied for a bug report or a test.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Copy the PCI part of sysfs into a directory or tarball that --sysfs-root can read back.",
        discussion: """
            Copies every PCI device's ids, class, config space, driver_override, SR-IOV attributes and links \
            (driver, iommu_group, physfn, virtfnN), bus/pci/devices and drivers, kernel/iommu_groups, and the \
            class/net, block and display links that host-use analysis reads. Nothing is written to the source. \
            OUT ending in .tar, .tar.gz, .tgz, .tar.xz or .tar.zst is written as a tarball; anything else as a \
            directory, which must not exist yet. Attach it to a bug report; read it with \
            `vfio-warden list --sysfs-root OUT`.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Directory or tarball to write.", valueName: "out"))
    var output: String

    func validate() throws {
        if SysfsRoot(output).existsWithoutFollowing("") {
            throw ValidationError("\(output) already exists; give a new path")
        }
    }

    func run() throws {
        let root = try global.resolvedRoot()
        let tarball = Tarball.isTarball(output)
        let directory = tarball ? try Tarball.temporaryDirectory(prefix: "vfio-warden-snapshot") : output
        defer { if tarball { Tarball.remove(directory) } }
        var snapshot = SysfsSnapshot(from: root.root, to: SysfsRoot(directory))
        do {
            try snapshot.write()
        } catch {
            throw CommandFailure("snapshot of \(root.root) failed: \(error)")
        }
        if tarball { try Tarball.pack(directory, into: output) }
        for problem in snapshot.problems { StandardError.write("warning: not copied: \(problem)\n") }
        StandardOutput.write("copied \(snapshot.deviceCount) PCI devices from \(root.root) to \(output)\n")
    }
}
