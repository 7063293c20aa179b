import Foundation
import Testing

/// `systemd-analyze verify` on the units in contrib/systemd, as install.sh would install them: ExecStart= names
/// a stand-in executable (verify checks that the program exists; /usr/local/bin/vfio-warden is not installed on a
/// test machine) and `man:vfio-warden(1)` is looked up in the repository's pages (`MANPATH`). Tests/run installs
/// systemd and man-db when they are missing; nothing is loaded into the running systemd.
@Suite struct SystemdUnitTests {
    static let analyzer = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let units = ["vfio-warden.service", "vfio-warden-metrics.service", "vfio-warden-metrics.timer"]

    @Test(arguments: units)
    func systemdAnalyzeVerifyPasses(_ unit: String) throws {
        let analyzer = try #require(Self.analyzer, "systemd-analyze not found: install systemd (Tests/run does)")
        try withTemporaryDirectory { directory in
            let fileManager = FileManager.default
            for folder in ["bin", "man/man1", "units"] {
                try fileManager.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
            }
            let binary = directory + "/bin/vfio-warden"
            try "#!/bin/sh\nexit 0\n".write(toFile: binary, atomically: true, encoding: .utf8)
            try fileManager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
            let manSource = repositoryRoot.appendingPathComponent("contrib/man").path
            for page in try fileManager.contentsOfDirectory(atPath: manSource) where page.hasSuffix(".1") {
                try fileManager.copyItem(atPath: manSource + "/" + page, toPath: directory + "/man/man1/" + page)
            }
            // Every unit beside the one verified: the timer names the metrics service.
            for name in Self.units {
                let text = try String(contentsOf: repositoryRoot.appendingPathComponent("contrib/systemd/\(name)"), encoding: .utf8)
                if name.hasSuffix(".service") {
                    #expect(text.contains("ExecStart=/usr/local/bin/vfio-warden "), "\(name) no longer runs /usr/local/bin/vfio-warden")
                }
                try text.replacingOccurrences(of: "/usr/local/bin/vfio-warden", with: binary)
                    .write(toFile: directory + "/units/" + name, atomically: true, encoding: .utf8)
            }
            let result = try run(analyzer, ["verify", directory + "/units/" + unit], environment: ["MANPATH": directory + "/man"])
            #expect(result.status == 0, "systemd-analyze verify \(unit): \(result.stderr)")
            #expect(result.stderr.isEmpty, "systemd-analyze verify \(unit) warns: \(result.stderr)")
        }
    }
}
