import Foundation
import Testing

/// The built `vfio-warden` executable, run as a user would, on temporary trees only.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct CLITests {
    @Test func listJSONHasTheDocumentedKeys() throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["example-tree", "\(directory)/sys"]).status == 0)
            let result = try CLI.run(["list", "--json", "--sysfs-root", "\(directory)/sys"])
            #expect(result.status == 0)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            #expect(Set(json.keys) == ["groups", "ungrouped", "problems"])
            let groups = try #require(json["groups"] as? [[String: Any]])
            let chipset = try #require(groups.first { ($0["devices"] as? [[String: Any]])?.contains { $0["address"] as? String == "0000:00:1f.2" } == true })
            #expect(chipset["viable"] as? Bool == false)
            let device = try #require((chipset["devices"] as? [[String: Any]])?.first)
            #expect(Set(device.keys) == ["address", "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "class_name",
                                         "driver", "driver_override", "iommu_group", "parent", "physfn", "virtfns", "sriov", "bridge", "problems"])
        }
    }

    @Test func aSnapshotTarballReadsBackAsTheSameListing() throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys"])
            #expect(try CLI.run(["snapshot", "--sysfs-root", "\(directory)/sys", "\(directory)/snap.tar.gz"]).status == 0)
            let original = try CLI.run(["list", "--json", "--sysfs-root", "\(directory)/sys"]).output
            let fromTarball = try CLI.run(["list", "--json", "--sysfs-root", "\(directory)/snap.tar.gz"]).output
            #expect(!original.isEmpty && original == fromTarball)
        }
    }

    @Test(arguments: [
        (["show", "09:00"], Int32(64), "invalid PCI address '09:00'"),
        (["show", "09:00.0"], Int32(1), "no PCI device 0000:09:00.0"),
        (["list", "--json", "--xml"], Int32(64), "--json and --xml cannot be combined"),
    ])
    func badInputIsAClearErrorAndANonZeroExit(arguments: [String], status: Int32, message: String) throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys"])
            let result = try CLI.run(arguments + ["--sysfs-root", "\(directory)/sys"])
            #expect(result.status == status)
            #expect(result.errors.contains(message), "stderr: \(result.errors)")
        }
    }

    @Test func listOfADirectoryThatIsNotSysfsSaysSo() throws {
        try CLI.withDirectory { directory in
            let result = try CLI.run(["list", "--sysfs-root", directory])
            #expect(result.status == 1)
            #expect(result.errors.contains("cannot list PCI devices under sysfs root \(directory)"))
        }
    }

    @Test func planAssignOfTheSATAGroupIsRefusedWithReasons() throws {
        try CLI.withDirectory { directory in
            _ = try CLI.run(["example-tree", "\(directory)/sys"])
            try FileManager.default.createDirectory(atPath: "\(directory)/proc/self", withIntermediateDirectories: true)
            try "22 1 8:0 / / rw - ext4 /dev/sda rw\n".write(toFile: "\(directory)/proc/self/mountinfo", atomically: true, encoding: .utf8)
            let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("contrib/policy.example.toml").path
            let result = try CLI.run(["plan", "assign", "00:1f.2", "--owner", "vm1", "--policy", policy,
                                      "--sysfs-root", "\(directory)/sys", "--proc-root", "\(directory)/proc"])
            #expect(result.status == 1)
            #expect(result.output.contains("assign 0000:00:1f.2 (IOMMU group 5): refused"))
            #expect(result.output.contains("0000:00:1f.2: is in use by the host: backs / (mounted ext4 filesystem on sda, 8:0)"))
            #expect(result.output.contains("0000:00:1f.2: is protected by the policy"))
        }
    }

    @Test func simulateWithNoArgumentsShowsTheThreeJobs() throws {
        try CLI.withDirectory { directory in
            let result = try CLI.run(["simulate", "--work-dir", "\(directory)/work"])
            #expect(result.status == 0, "stderr: \(result.errors)")
            #expect(result.output.contains("isolate 0000:02:00.1 before any host driver claims it: done"))
            #expect(result.output.contains("violation: e1000 claimed 0000:03:01.0 assigned to vm1: done"))
            #expect(result.output.contains("chain intact"))
            #expect(result.output.contains("0 plans rolled back"))
            let verify = try CLI.run(["journal", "verify", "--journal", "\(directory)/work/journal"])
            #expect(verify.status == 0)
        }
    }
}

enum CLI {
    /// The `vfio-warden` executable in the build folder of this test bundle, or the one `VFIO_WARDEN_CLI_UNDER_TEST`
    /// names (to show that a test fails on an older build).
    static let path: String? = {
        if let given = ProcessInfo.processInfo.environment["VFIO_WARDEN_CLI_UNDER_TEST"], !given.isEmpty { return given }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidate = bundle.deletingLastPathComponent().appendingPathComponent("vfio-warden").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs the executable with `arguments`, and `environment` added to this process's environment.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                      errors: String(decoding: errorData, as: UTF8.self))
    }

    static func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.path + "/vfio-warden-cli-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try body(directory)
    }
}
