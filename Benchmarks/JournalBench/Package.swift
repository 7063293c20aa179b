// swift-tools-version: 6.1
// The journal benchmark: a package of its own so the main build stays light. Run it with Benchmarks/journal.sh.
import Foundation
import PackageDescription

// SwiftPM names a path dependency by its folder (`main`, a worktree's name, a CI clone's name), not by the
// manifest's `name`, so the root package's identity is read off the path.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "JournalBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "JournalBench",
            dependencies: [
                .product(name: "Journal", package: root),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
