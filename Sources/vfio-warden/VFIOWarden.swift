import ArgumentParser

/// `vfio-warden`: keeps PCI passthrough safe. One executable, one subcommand per job.
@main
struct VFIOWarden: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfio-warden",
        abstract: "Keep PCI passthrough safe: IOMMU groups, isolation, enforcement and a journal.",
        discussion: """
            vfio-warden reads the PCI devices and IOMMU groups from sysfs and shows which groups could be given \
            to a guest with VFIO, and why not: a whole group is isolated or none of it is.

            Every command reads sysfs under --sysfs-root (default /sys), so it can be pointed at a `snapshot` \
            or a simulated tree instead of the running kernel.
            """,
        version: VersionInfo.version,
        subcommands: [
            // One line per subcommand; keep this list the only place they are registered.
            ListCommand.self,
            ShowCommand.self,
            ExampleTreeCommand.self,
            SnapshotCommand.self,
            WatchCommand.self,
            JournalCommand.self,
            CheckCommand.self,
            PolicyCommand.self,
            SimulateCommand.self,
            PlanCommand.self,
            AssignCommand.self,
            ReleaseCommand.self,
            AgentCommand.self,
            RulesCommand.self,
            MetricsCommand.self,
            StatusCommand.self,
        ]
    )
}

enum VersionInfo {
    static let version = "0.1.0"
}
