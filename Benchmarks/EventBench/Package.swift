// swift-tools-version: 6.1
// The event-path benchmark (decode → graph update → planner, per uevent) and the engine's memory over a million
// events: a package of its own so the main build stays light. Run it with Benchmarks/events.sh (or Benchmarks/run).
import Foundation
import PackageDescription

// SwiftPM names a path dependency by its folder, not by the manifest's `name` (see Benchmarks/JournalBench).
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "EventBench",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "EventBench",
            dependencies: [
                .product(name: "Sysfs", package: root),
                .product(name: "Topology", package: root),
                .product(name: "Udev", package: root),
                .product(name: "Enforcement", package: root),
                .product(name: "SimulatedKernel", package: root),
                .product(name: "Agent", package: root),
                .product(name: "ControlLoad", package: root),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
