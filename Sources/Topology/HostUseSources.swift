import Sysfs

/// Where the host-use analysis reads, and what it may ask the kernel beyond reading files.
///
/// `sysfs` plays `/sys` and `proc` plays `/proc` (both may be test trees or a snapshot). `run` plays `/run`
/// (`udev/data/b<major>:<minor>`, udev's database; `netns/`, named network namespaces): `nil` reads nothing there.
/// `exclusiveOpen` asks whether a block device refuses an `O_EXCL` open: only ever the real `/dev` of the running
/// host (``ExclusiveOpenProbe``), never in unit tests, where a fake is injected or `nil` skips the probe.
public struct HostUseSources: Sendable {
    public var sysfs: SysfsRoot
    public var proc: SysfsRoot
    public var run: SysfsRoot?
    public var exclusiveOpen: (any BlockDeviceProbe)?

    public init(sysfs: SysfsRoot, proc: SysfsRoot, run: SysfsRoot? = nil, exclusiveOpen: (any BlockDeviceProbe)? = nil) {
        self.sysfs = sysfs
        self.proc = proc
        self.run = run
        self.exclusiveOpen = exclusiveOpen
    }

    /// The sources a caller that names only sysfs and proc gets: the running host's `/run` and `/dev` when, and
    /// only when, both are the running host's (`/sys` and `/proc`); nothing else otherwise, so that a test tree or a
    /// snapshot is never joined with this machine's udev database or block devices.
    public static func inferred(sysfs: SysfsRoot, proc: SysfsRoot) -> HostUseSources {
        guard sysfs.path == "/sys", proc.path == "/proc" else { return HostUseSources(sysfs: sysfs, proc: proc) }
        return HostUseSources(sysfs: sysfs, proc: proc, run: SysfsRoot("/run"), exclusiveOpen: ExclusiveOpenProbe(dev: "/dev"))
    }
}

/// What the policy says about host use the analysis can only infer (`[host_use]` in the policy file).
public struct HostUseOptions: Sendable, Hashable {
    /// `netdev_elsewhere`: a network device bound to a host network driver with no network interface visible here
    /// (moved into a container's or pod's network namespace) counts as in use (`true`, the default).
    public var netdevElsewhereInUse: Bool
    /// `only_keyboard`: a controller carrying every keyboard the host has counts as in use (`true`, the default).
    public var onlyKeyboardInUse: Bool

    public init(netdevElsewhereInUse: Bool = true, onlyKeyboardInUse: Bool = true) {
        self.netdevElsewhereInUse = netdevElsewhereInUse
        self.onlyKeyboardInUse = onlyKeyboardInUse
    }
}
