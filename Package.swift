// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "vfio-warden",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vfio-warden", targets: ["vfio-warden"]),
        // For Benchmarks/JournalBench, a separate package that depends on this one by path.
        .library(name: "Journal", targets: ["Journal"]),
        // For Benchmarks/EventBench and Fuzz/, separate packages that depend on this one by path.
        .library(name: "Sysfs", targets: ["Sysfs"]),
        .library(name: "Topology", targets: ["Topology"]),
        .library(name: "Udev", targets: ["Udev"]),
        .library(name: "Enforcement", targets: ["Enforcement"]),
        .library(name: "SimulatedKernel", targets: ["SimulatedKernel"]),
        .library(name: "Policy", targets: ["Policy"]),
        .library(name: "Agent", targets: ["Agent"]),
        // For Fuzz/ (the control protocol target).
        .library(name: "Control", targets: ["Control"]),
        // For Benchmarks/EventBench (`load`).
        .library(name: "ControlLoad", targets: ["ControlLoad"]),
    ],
    // Every version is exact, the transitive ones too (swift-asn1 for swift-crypto; swift-async-algorithms and
    // swift-collections for swift-service-lifecycle), so that a build resolves the same graph wherever it runs:
    // Package.resolved is not committed (README, "Reproducible builds"). Raise a pin by editing it here.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        // Transitive: named only to pin them.
        .package(url: "https://github.com/apple/swift-asn1", exact: "1.7.4"),
        .package(url: "https://github.com/apple/swift-async-algorithms", exact: "1.1.4"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
    ],
    targets: [
        // libudev, through pkg-config; Debian's libudev-dev provides it.
        .systemLibrary(
            name: "CUdev",
            pkgConfig: "libudev",
            providers: [.apt(["libudev-dev"])]
        ),
        // Typed reads and writes under a configurable sysfs root.
        .target(
            name: "Sysfs",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // The device / IOMMU group graph: scan, incremental apply, viability.
        .target(
            name: "Topology",
            dependencies: ["Sysfs"]
        ),
        // The libudev monitor as an AsyncSequence of Sendable events.
        .target(
            name: "Udev",
            dependencies: ["CUdev", "Topology", "Sysfs", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Generated sysfs trees and a kernel that behaves like Linux for what the agent writes.
        .target(
            name: "SimulatedKernel",
            dependencies: ["Sysfs", "Topology", .product(name: "SystemPackage", package: "swift-system")],
            exclude: ["README.md"]
        ),
        // What `list`, `show` and `watch` print: table, JSON and libvirt XML renderings of the graph.
        .target(
            name: "Reports",
            dependencies: ["Sysfs", "Topology"]
        ),
        // Planner (pure: graph + verdicts + assignments → steps) and executor (sysfs writes, verification, rollback).
        .target(
            name: "Enforcement",
            dependencies: ["Sysfs", "Topology"]
        ),
        // The append-only, hash-chained journal of every state transition.
        .target(
            name: "Journal",
            dependencies: [.product(name: "Crypto", package: "swift-crypto"), "Sysfs"]
        ),
        // The daemon's core: graph, assignments, planner, executor and journal, fed by one event stream.
        .target(
            name: "Agent",
            dependencies: ["Sysfs", "Topology", "Enforcement", "Journal", "Policy"]
        ),
        // The agent as a service: the control socket (protocol, server, client), sd_notify, the run lock, SIGHUP reload,
        // and the agent's services run by swift-service-lifecycle's ServiceGroup.
        .target(
            name: "Control",
            dependencies: ["Agent", "Enforcement", "Journal", "Policy", "Reports", "Sysfs", "Topology",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")]
        ),
        // A load run: many control clients at once and a VF event storm against the agent's parts on the simulated kernel.
        .target(
            name: "ControlLoad",
            dependencies: ["Agent", "Control", "Enforcement", "Journal", "SimulatedKernel", "Sysfs", "Topology"]
        ),
        // `simulate`: scenarios played against the real engine on the simulated kernel.
        .target(
            name: "Simulation",
            dependencies: ["Agent", "Enforcement", "Journal", "Policy", "SimulatedKernel", "Sysfs", "Topology",
                           .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // The policy file (allowlist, protected devices, static assignments, SR-IOV rules) and its validation.
        .target(
            name: "Policy",
            dependencies: ["Sysfs", "Topology", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // `rules generate`: udev rules from the policy (driver_override at `add`, sriov_drivers_autoprobe on PFs).
        .target(
            name: "Rules",
            dependencies: ["Policy", "Sysfs", "Topology"]
        ),
        // `metrics`: the journal's counters and the groups' states in the Prometheus text format.
        .target(
            name: "Metrics",
            dependencies: ["Enforcement", "Journal"]
        ),
        .executableTarget(
            name: "vfio-warden",
            dependencies: [
                "Sysfs", "Topology", "Udev", "SimulatedKernel", "Reports", "Journal", "Enforcement", "Agent", "Simulation", "Policy",
                "Rules", "Metrics", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "SysfsTests", dependencies: ["Sysfs", "SimulatedKernel"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "Sysfs", "SimulatedKernel"]),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "Topology", "Sysfs", "SimulatedKernel"],
            exclude: ["Golden"]
        ),
        .testTarget(name: "UdevTests", dependencies: ["Udev", "Topology", "Sysfs", "SimulatedKernel", "Reports"]),
        .testTarget(
            name: "SimulatedKernelTests",
            dependencies: ["SimulatedKernel", "Topology", "Sysfs", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "JournalTests", dependencies: ["Journal"]),
        // Runs the built executable (swift build --build-tests builds it beside the tests).
        .testTarget(name: "CLITests", dependencies: []),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Agent", "Journal", "Policy", "SimulatedKernel", "Sysfs", "Topology"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Enforcement", "Journal", "Topology", "Sysfs", "SimulatedKernel"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "Agent", "Enforcement", "Journal", "Policy", "Topology", "Sysfs", "SimulatedKernel",
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "LoadTests", dependencies: ["ControlLoad"]),
        .testTarget(name: "EnforcementTests", dependencies: ["Enforcement", "Topology", "Sysfs", "SimulatedKernel"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "Topology", "Sysfs", "SimulatedKernel"]),
        .testTarget(name: "HostUseTests", dependencies: ["Topology", "Sysfs", "SimulatedKernel"]),
        .testTarget(
            name: "CheckCommandTests",
            dependencies: [
                "vfio-warden", "Policy", "Reports", "SimulatedKernel", "Sysfs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "RulesTests",
            dependencies: ["Rules", "Policy", "Topology", "Sysfs", "SimulatedKernel"],
            exclude: ["Golden"]
        ),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Journal", "Enforcement", "Sysfs"]),
        // The shipped scripts: the libvirt hook against a fake vfio-warden, install.sh into a temporary DESTDIR.
        .testTarget(name: "ContribTests", exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
