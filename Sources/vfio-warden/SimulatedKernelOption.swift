#if canImport(Glibc)
import Glibc
#endif
import SimulatedKernel
import Sysfs

/// FOR TESTS ONLY: `--simulated-kernel` (hidden) makes `assign`, `release` and `agent` write through a
/// ``SimulatedKernel`` over the `--sysfs-root` tree instead of writing the tree's files, so a process that is
/// killed mid-way (see ``CrashPoint``) leaves the tree as the kernel would have, and the next process, over the
/// same tree, sees it. The agent then takes its events from that kernel, not udev (see `AgentCommand`).
///
/// `VFIO_WARDEN_SIMULATED_WRITE_LOG=FILE` (here and in `simulate`): every write the simulated kernel receives
/// is appended to FILE (``SimulatedKernel/writeLog``).
///
/// `VFIO_WARDEN_SIMULATED_FAIL_WRITE=PATH` (crash tests of a rollback): every write to PATH, relative to the root
/// (`bus/pci/drivers/virtio-pci/unbind`), fails with `EIO`.
enum SimulatedKernelOption {
    static let writeLogVariable = "VFIO_WARDEN_SIMULATED_WRITE_LOG"
    static let failWriteVariable = "VFIO_WARDEN_SIMULATED_FAIL_WRITE"

    /// The write log named by the environment, `nil` when unset or empty.
    static var writeLog: String? {
        getenv(writeLogVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A simulated kernel over the tree at `root`. Refuses the machine's own `/sys`: the simulated kernel writes
    /// the tree's files directly.
    static func kernel(over root: SysfsRoot, devDirectory: String? = nil) throws -> SimulatedKernel {
        var real = root.path
        if let resolved = realpath(root.path, nil) {
            real = String(cString: resolved)
            free(resolved)
        }
        guard real != "/sys", !real.hasPrefix("/sys/") else {
            throw CommandFailure("--simulated-kernel is for tests: it rewrites the files of --sysfs-root, which must be a simulated tree, not \(real)")
        }
        guard root.existsWithoutFollowing(PCIPaths.devices) else {
            throw CommandFailure("--simulated-kernel: \(root.path) is not a sysfs tree (no \(PCIPaths.devices))")
        }
        let kernel = SimulatedKernel(tree: SysfsTree(existingAt: root), devDirectory: devDirectory, writeLog: writeLog)
        if let failing = getenv(failWriteVariable).map({ String(cString: $0) }), !failing.isEmpty {
            kernel.inject(.fail(.ioError), on: failing, .always)
        }
        return kernel
    }
}
