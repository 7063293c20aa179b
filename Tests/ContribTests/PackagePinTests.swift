import Foundation
import Testing

/// Reproducible builds without a committed Package.resolved: every package a manifest names is pinned with
/// `exact:`, and every package the resolver chose (transitive ones too) is pinned in the root manifest at the
/// version it chose.
@Suite struct PackagePinTests {
    /// The repository's manifests: the root package, the fuzzers', the benchmarks'.
    var manifests: [String] {
        var paths = ["Package.swift", "Fuzz/Package.swift"]
        let benchmarks = repositoryRoot.appendingPathComponent("Benchmarks").path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: benchmarks)) ?? []
        where FileManager.default.fileExists(atPath: "\(benchmarks)/\(name)/Package.swift") {
            paths.append("Benchmarks/\(name)/Package.swift")
        }
        return paths.sorted()
    }

    /// The `.package(url: ...)` calls of a manifest, one string each (they may span lines).
    func packageCalls(in manifest: String) throws -> [String] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent(manifest), encoding: .utf8)
        var calls: [String] = []
        var rest = text[...]
        while let start = rest.range(of: ".package(url:") {
            let end = rest[start.upperBound...].firstIndex(of: ")") ?? rest.endIndex
            calls.append(rest[start.lowerBound..<end].replacingOccurrences(of: "\n", with: " ") + ")")
            rest = rest[end...]
        }
        return calls
    }

    /// url (lowercased, without .git) → the exact version the root manifest pins.
    func rootPins() throws -> [String: String] {
        let pattern = try NSRegularExpression(pattern: #"url:\s*"([^"]+)"\s*,\s*exact:\s*"([^"]+)""#)
        var pins: [String: String] = [:]
        for call in try packageCalls(in: "Package.swift") {
            let range = NSRange(call.startIndex..., in: call)
            guard let match = pattern.firstMatch(in: call, range: range),
                  let url = Range(match.range(at: 1), in: call), let version = Range(match.range(at: 2), in: call)
            else { continue }
            pins[normalized(String(call[url]))] = String(call[version])
        }
        return pins
    }

    func normalized(_ url: String) -> String {
        var url = url.lowercased()
        if url.hasSuffix(".git") { url.removeLast(4) }
        return url
    }

    @Test func everyPackageAManifestNamesIsPinnedExactly() throws {
        var seen = 0
        for manifest in manifests {
            for call in try packageCalls(in: manifest) {
                seen += 1
                #expect(call.contains("exact:"), "\(manifest): \(call) is not pinned with exact: (README, Reproducible builds)")
            }
        }
        #expect(seen >= 6, "the root manifest's dependencies were not found")
    }

    /// Package.resolved is not committed, but `swift build` (which runs before the tests) writes it.
    @Test func everyResolvedPackageIsPinnedInTheRootManifestAtTheVersionResolved() throws {
        let resolved = repositoryRoot.appendingPathComponent("Package.resolved")
        let data = try #require(try? Data(contentsOf: resolved), "no \(resolved.path): run swift build first")
        struct Resolved: Decodable {
            struct Pin: Decodable {
                struct State: Decodable { var version: String? }
                var identity: String
                var location: String
                var state: State
            }
            var pins: [Pin]
        }
        let pins = try JSONDecoder().decode(Resolved.self, from: data).pins
        #expect(pins.count >= 6)
        let manifest = try rootPins()
        for pin in pins {
            let version = manifest[normalized(pin.location)]
            #expect(version != nil, "\(pin.identity) (\(pin.location)) is resolved but not pinned in Package.swift")
            #expect(version == nil || version == pin.state.version,
                    "\(pin.identity): Package.swift pins \(version ?? "-"), the resolver chose \(pin.state.version ?? "no version")")
        }
    }
}
