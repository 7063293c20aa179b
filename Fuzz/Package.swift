// swift-tools-version: 6.1
// libFuzzer targets for the parsers that read untrusted or hand-written input. A package of its own, built
// with `-sanitize=fuzzer,address`; run them with Fuzz/run.
import Foundation
import PackageDescription

// SwiftPM names a path dependency by its folder (`main`, a worktree's name, a CI clone's name), not by the
// manifest's `name`, so the root package's identity is read off the path.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "Fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "FuzzPolicy", dependencies: [.product(name: "Policy", package: root)]),
        .executableTarget(name: "FuzzUevent", dependencies: [
            .product(name: "Udev", package: root), .product(name: "Topology", package: root),
        ]),
        .executableTarget(name: "FuzzJournal", dependencies: [.product(name: "Journal", package: root)]),
        .executableTarget(name: "FuzzAttributes", dependencies: [
            .product(name: "Topology", package: root), .product(name: "Sysfs", package: root),
            .product(name: "Policy", package: root),
        ]),
        .executableTarget(name: "FuzzControl", dependencies: [
            .product(name: "Control", package: root), .product(name: "Agent", package: root),
            .product(name: "Enforcement", package: root), .product(name: "SimulatedKernel", package: root),
            .product(name: "Sysfs", package: root), .product(name: "Topology", package: root),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
