import Foundation
import Testing

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/vfio-warden-contrib-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, `stdin` as its standard input, and `environment` added to ours.
func run(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let input = Pipe(), output = Pipe(), error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Feed stdin from another thread: the child may not read it all before exiting.
    let data = Data(stdin.utf8)
    let writer = Thread {
        try? input.fileHandleForWriting.write(contentsOf: data)
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

/// A `vfio-warden` that appends its arguments (one call a line, words separated by `|`) to `$FAKE_LOG` and exits
/// with `$FAKE_EXIT`, printing a refusal when that is not 0.
func installFakeWarden(in directory: String) throws {
    let script = """
        #!/bin/sh
        (IFS='|'; printf '%s\\n' "$*") >> "$FAKE_LOG"
        if [ "${FAKE_EXIT:-0}" != 0 ]; then echo "refused: 0000:01:00.0 is in use by the host" >&2; fi
        exit "${FAKE_EXIT:-0}"

        """
    let path = directory + "/vfio-warden"
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
}

let hook = repositoryRoot.appendingPathComponent("contrib/libvirt/qemu").path
func fixture(_ name: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/ContribTests/Fixtures/\(name)"), encoding: .utf8)
}

@Suite struct LibvirtHookTests {
    func hookRun(_ arguments: [String], xml: String, exit: Int = 0) throws -> (Run, [String]) {
        try withTemporaryDirectory { directory in
            try installFakeWarden(in: directory)
            let log = directory + "/calls"
            let result = try run("/bin/sh", [hook] + arguments, stdin: xml, environment: [
                "PATH": directory + ":/usr/bin:/bin", "FAKE_LOG": log, "FAKE_EXIT": String(exit),
            ])
            let calls = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return (result, calls)
        }
    }

    @Test func prepareAssignsEveryHostPCIDeviceInOneCall() throws {
        let (result, calls) = try hookRun(["router-vm", "prepare", "begin", "-"], xml: try fixture("domain-passthrough.xml"))
        #expect(result.status == 0, "\(result.stderr)")
        // The two PCI hostdevs and the VF behind <interface type='hostdev'>; not the USB or mdev hostdevs, not the
        // guest-side addresses, not the commented-out hostdev.
        #expect(calls == ["assign|0000:01:00.0|0000:03:01.0|0000:02:00.1|--owner|libvirt:router-vm"])
        #expect(result.stdout.isEmpty)
    }

    @Test func releaseReleasesEverythingTheDomainHolds() throws {
        let (result, calls) = try hookRun(["router-vm", "release", "end", "-"], xml: try fixture("domain-passthrough.xml"))
        #expect(result.status == 0)
        #expect(calls == ["release|--owner|libvirt:router-vm"])
    }

    @Test func aRefusalStopsTheGuestWithTheReasons() throws {
        let (result, calls) = try hookRun(["router-vm", "prepare", "begin", "-"], xml: try fixture("domain-passthrough.xml"), exit: 1)
        #expect(result.status == 1)
        #expect(calls.count == 1)
        #expect(result.stderr.contains("refused: 0000:01:00.0 is in use by the host"))
        #expect(result.stderr.contains("the guest is not started"))
    }

    @Test func aFailedReleaseIsReportedButDoesNotFail() throws {
        let (result, _) = try hookRun(["router-vm", "release", "end", "-"], xml: try fixture("domain-passthrough.xml"), exit: 1)
        #expect(result.status == 0)
        #expect(result.stderr.contains("release of the groups held by libvirt:router-vm failed"))
    }

    @Test(arguments: ["start", "started", "stopped", "migrate", "restore", "reconnect", "attach"])
    func otherOperationsCallNothingAndPrintNothing(_ operation: String) throws {
        let (result, calls) = try hookRun(["router-vm", operation, "begin", "-"], xml: try fixture("domain-passthrough.xml"))
        #expect(result.status == 0)
        #expect(calls.isEmpty)
        #expect(result.stdout.isEmpty)
    }

    @Test func aGuestWithoutPCIHostdevsCallsNothing() throws {
        let (result, calls) = try hookRun(["plain", "prepare", "begin", "-"], xml: try fixture("domain-no-hostdev.xml"))
        #expect(result.status == 0)
        #expect(calls.isEmpty)
    }

    @Test func decimalAndUnprefixedAttributesAndAnEmptyDomain() throws {
        let xml = """
            <domain><name>x</name><devices>
            <hostdev mode='subsystem' type='pci'><source><address bus='10' slot='0x1f' function='7'/></source></hostdev>
            </devices></domain>
            """
        let (result, calls) = try hookRun(["x", "prepare", "begin", "-"], xml: xml)
        #expect(result.status == 0)
        #expect(calls == ["assign|0000:0a:1f.7|--owner|libvirt:x"])
    }

    @Test func aMissingVfioWardenStopsTheGuest() throws {
        let result = try run("/bin/sh", [hook, "router-vm", "prepare", "begin", "-"], stdin: try fixture("domain-passthrough.xml"),
                             environment: ["PATH": "/usr/bin:/bin", "VFIO_WARDEN": "/nonexistent/vfio-warden"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("not found"))
    }

    /// The owner is libvirt:DOMAIN: a name with a control character never reaches vfio-warden or the log raw.
    @Test(arguments: ["prepare", "release"], ["", "web\n  0000:00:1f.2: set driver_override \u{1B}[31m"])
    func aDomainNameWithAControlCharacterIsRefusedEscaped(operation: String, domain: String) throws {
        let (result, calls) = try hookRun([domain, operation, "begin", "-"], xml: try fixture("domain-passthrough.xml"))
        #expect(result.status == (operation == "prepare" ? 1 : 0))
        #expect(calls.isEmpty)
        #expect(result.stderr.contains("refused: the domain name is empty or holds a control character"), "\(result.stderr)")
        #expect(!result.stderr.dropLast().contains { $0 == "\u{1B}" || $0 == "\n" }, "\(result.stderr.debugDescription)")
    }

    @Test func anInvalidAddressRefusesWithoutCallingVfioWarden() throws {
        let xml = "<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x40' function='0x0'/></source></hostdev></devices></domain>"
        let (result, calls) = try hookRun(["x", "prepare", "begin", "-"], xml: xml)
        #expect(result.status == 1)
        #expect(calls.isEmpty)
        #expect(result.stderr.contains("not valid"))
    }
}

@Suite struct InstallScriptTests {
    let script = repositoryRoot.appendingPathComponent("install.sh").path

    /// Every file under `root`, relative, sorted.
    func files(under root: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var result: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result.append("/" + path)
            }
        }
        return result.sorted()
    }

    /// A stand-in binary: install.sh runs `rules generate` with it; it prints a rules file naming its options.
    func fakeBinary(in directory: String) throws -> String {
        let path = directory + "/vfio-warden-bin"
        try """
            #!/bin/sh
            # stand-in for vfio-warden in install.sh tests
            out=; while [ $# -gt 0 ]; do case "$1" in --output) out=$2; shift 2;; *) shift;; esac; done
            printf '# generated rules\\n' > "$out"

            """.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    @Test func stagedInstallWritesExactlyTheseFilesAndUninstallRemovesThem() throws {
        try withTemporaryDirectory { tmp in
            let destdir = tmp + "/root"
            let binary = try fakeBinary(in: tmp)
            let install = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--binary", binary, "--with-libvirt-hook"])
            #expect(install.status == 0, "\(install.stderr)")
            var expected = [
                "/etc/libvirt/hooks/qemu",
                "/etc/systemd/system/vfio-warden-metrics.service",
                "/etc/systemd/system/vfio-warden-metrics.timer",
                "/etc/systemd/system/vfio-warden.service",
                "/etc/vfio-warden/policy.toml",
                "/usr/lib/udev/rules.d/70-vfio-warden.rules",
                "/usr/local/bin/vfio-warden",
                "/usr/local/share/bash-completion/completions/vfio-warden",
                "/usr/local/share/doc/vfio-warden/policy.example.toml",
                "/usr/local/share/fish/vendor_completions.d/vfio-warden.fish",
                "/usr/local/share/vfio-warden/node-labels.sh",
                "/usr/local/share/zsh/site-functions/_vfio-warden",
            ]
            let pages = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("contrib/man").path)
                .filter { $0.hasSuffix(".1") }
            #expect(!pages.isEmpty)
            expected += pages.map { "/usr/local/share/man/man1/\($0)" }
            #expect(files(under: destdir) == expected.sorted())

            // The installed policy is the example, commented out: monitor-only.
            let policy = try String(contentsOfFile: destdir + "/etc/vfio-warden/policy.toml", encoding: .utf8)
            #expect(policy.split(separator: "\n").allSatisfy { $0.hasPrefix("#") })
            let unit = try String(contentsOfFile: destdir + "/etc/systemd/system/vfio-warden.service", encoding: .utf8)
            #expect(unit.contains("ExecStart=/usr/local/bin/vfio-warden agent"))
            // A second install keeps the policy and refuses nothing (the hook is ours).
            try "# mine\n".write(toFile: destdir + "/etc/vfio-warden/policy.toml", atomically: true, encoding: .utf8)
            let again = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--binary", binary, "--with-libvirt-hook"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try String(contentsOfFile: destdir + "/etc/vfio-warden/policy.toml", encoding: .utf8) == "# mine\n")

            let uninstall = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--uninstall"])
            #expect(uninstall.status == 0, "\(uninstall.stderr)")
            #expect(files(under: destdir) == ["/etc/vfio-warden/policy.toml"])
        }
    }

    /// StrictModes: whatever the caller's umask, nothing installed (the hook, the policy, the binary) and none
    /// of the directories install.sh makes is writable by anyone but its owner, so the agent and the hook's
    /// vfio-warden do not refuse them.
    @Test func nothingInstalledIsWritableByGroupOrOthersWhateverTheUmask() throws {
        try withTemporaryDirectory { tmp in
            let destdir = tmp + "/root"
            let binary = try fakeBinary(in: tmp)
            let install = try run("/bin/sh", ["-c", "umask 000; exec /bin/sh \"$0\" \"$@\"", script, "--destdir", destdir,
                                              "--udevdir", "/usr/lib/udev", "--binary", binary, "--with-libvirt-hook"])
            #expect(install.status == 0, "\(install.stderr)")
            let hook = try FileManager.default.attributesOfItem(atPath: destdir + "/etc/libvirt/hooks/qemu")
            #expect((hook[.posixPermissions] as? Int) == 0o755)
            #expect((hook[.ownerAccountID] as? Int) == Int(getuid()))
            var checked = 0
            let enumerator = FileManager.default.enumerator(atPath: destdir)
            while let path = enumerator?.nextObject() as? String {
                let attributes = try FileManager.default.attributesOfItem(atPath: destdir + "/" + path)
                let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
                #expect(mode & 0o022 == 0, "/\(path) is mode \(String(mode, radix: 8))")
                checked += 1
            }
            #expect(checked > 20)
        }
    }

    @Test func prefixMovesTheBinaryAndTheUnitFollows() throws {
        try withTemporaryDirectory { tmp in
            let destdir = tmp + "/root"
            let install = try run("/bin/sh", [script, "--destdir", destdir, "--prefix", "/opt/vw", "--binary", try fakeBinary(in: tmp)])
            #expect(install.status == 0, "\(install.stderr)")
            #expect(FileManager.default.fileExists(atPath: destdir + "/opt/vw/bin/vfio-warden"))
            #expect(!FileManager.default.fileExists(atPath: destdir + "/etc/libvirt/hooks/qemu"))
            let unit = try String(contentsOfFile: destdir + "/etc/systemd/system/vfio-warden.service", encoding: .utf8)
            #expect(unit.contains("ExecStart=/opt/vw/bin/vfio-warden agent"))
            let metrics = try String(contentsOfFile: destdir + "/etc/systemd/system/vfio-warden-metrics.service", encoding: .utf8)
            #expect(metrics.contains("ExecStart=/opt/vw/bin/vfio-warden metrics --output "))
        }
    }

    @Test func anotherHookIsNeverOverwrittenWithoutForce() throws {
        try withTemporaryDirectory { tmp in
            let destdir = tmp + "/root"
            try FileManager.default.createDirectory(atPath: destdir + "/etc/libvirt/hooks", withIntermediateDirectories: true)
            try "#!/bin/sh\necho theirs\n".write(toFile: destdir + "/etc/libvirt/hooks/qemu", atomically: true, encoding: .utf8)
            let binary = try fakeBinary(in: tmp)
            let refused = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--binary", binary, "--with-libvirt-hook"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--force"))
            // Refused before anything was written.
            #expect(files(under: destdir) == ["/etc/libvirt/hooks/qemu"])
            let forced = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--binary", binary, "--with-libvirt-hook", "--force"])
            #expect(forced.status == 0, "\(forced.stderr)")
            #expect(try String(contentsOfFile: destdir + "/etc/libvirt/hooks/qemu", encoding: .utf8).contains("vfio-warden hook"))
            // Uninstall removes our hook only.
            _ = try run("/bin/sh", [script, "--destdir", destdir, "--udevdir", "/usr/lib/udev", "--uninstall"])
            #expect(!FileManager.default.fileExists(atPath: destdir + "/etc/libvirt/hooks/qemu"))
        }
    }
}

/// contrib/kubernetes/node-labels.sh against a stand-in vfio-warden (answering, or not) and a stand-in kubectl.
@Suite struct NodeLabelsScriptTests {
    static let script = repositoryRoot.appendingPathComponent("contrib/kubernetes/node-labels.sh").path
    static let patch = #"{"metadata":{"annotations":{"vfio-warden.io/groups":"[]"},"labels":{"vfio-warden.io/agent":"running","vfio-warden.io/groups-assigned":"0"}}}"#

    /// Runs the script once; returns its result and the calls each stand-in saw (arguments separated by `|`).
    func runOnce(agentAnswers: Bool) throws -> (Run, warden: [String], kubectl: [String]) {
        try withTemporaryDirectory { directory in
            let warden = """
                #!/bin/sh
                (IFS='|'; printf '%s\\n' "$*") >> "\(directory)/warden.log"
                if [ "$ANSWERS" = yes ]; then printf '%s\\n' '\(Self.patch)'; exit 0; fi
                echo "error: no agent answers at $3" >&2; exit 1

                """
            let kubectl = """
                #!/bin/sh
                (IFS='|'; printf '%s\\n' "$*") >> "\(directory)/kubectl.log"

                """
            for (name, text) in [("vfio-warden", warden), ("kubectl", kubectl)] {
                try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(directory)/\(name)")
            }
            let result = try run("/bin/sh", [Self.script, "--once"], environment: [
                "PATH": directory + ":/usr/bin:/bin", "NODE_NAME": "node-7", "ANSWERS": agentAnswers ? "yes" : "no",
                "CONTROL_SOCKET": "/run/vw/control.sock",
            ])
            func calls(_ name: String) -> [String] {
                ((try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            }
            return (result, calls("warden"), calls("kubectl"))
        }
    }

    @Test func theAgentsPatchIsAppliedToTheNode() throws {
        let (result, warden, kubectl) = try runOnce(agentAnswers: true)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(warden == ["status|--control-socket|/run/vw/control.sock|--k8s-labels"])
        #expect(kubectl == ["patch|node|node-7|--type|merge|-p|\(Self.patch)"])
    }

    @Test func anAgentThatDoesNotAnswerIsLabelledUnreachable() throws {
        let (result, _, kubectl) = try runOnce(agentAnswers: false)
        #expect(result.status == 1)
        #expect(result.stderr.contains("no agent answers at /run/vw/control.sock"))
        #expect(kubectl == [#"patch|node|node-7|--type|merge|-p|{"metadata":{"labels":{"vfio-warden.io/agent":"unreachable"}}}"#])
    }

    @Test func withoutNodeNameItRefusesToStart() throws {
        let result = try run("/bin/sh", [Self.script, "--once"], environment: ["NODE_NAME": ""])
        #expect(result.status != 0)
        #expect(result.stderr.contains("NODE_NAME"))
    }
}
