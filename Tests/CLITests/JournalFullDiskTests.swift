import Foundation
import Testing

/// `assign` with its journal on a real full file system: a 64 KiB tmpfs, mounted in a private mount namespace
/// (`unshare -m`: nothing outside the test's shell sees it), almost filled before the assign. Everything else is a
/// temporary tree on the simulated kernel; nothing touches the machine's `/sys`.
/// Whether `unshare -m` works here (root, and a kernel that allows it).
let canUnshareMounts: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? JournalFullDiskTests.shell("true")) != nil
}()

@Suite(.enabled(if: CLI.path != nil && canUnshareMounts, "needs the built executable and unshare -m"))
struct JournalFullDiskTests {
    /// Runs `script` in a private mount namespace; its standard output.
    @discardableResult
    static func shell(_ script: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-m", "--propagation", "private", "sh", "-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CrashTestError("unshare exited \(process.terminationStatus): \(String(decoding: data, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    @Test func anAssignWhoseJournalFillsUpWritesNothingUnrecordedExitsNonZeroAndIsRecoveredWhenSpaceReturns() throws {
        try CLI.withDirectory { directory in
            let fixture = try CrashFixture(directory: directory, operation: .assign)
            let host = CrashHost(directory: "\(directory)/host", fixture: fixture)
            try FileManager.default.createDirectory(atPath: host.directory, withIntermediateDirectories: true)
            try TreeCopy.copy(fixture.base, to: host.sys)
            let cli = CLI.path!
            func quoted(_ words: [String]) -> String { words.map { "'\($0)'" }.joined(separator: " ") }
            // The journal lives on the tmpfs; everything else beside it. Pages: the lock, the head and one of
            // journal.jsonl are left free, so the assign's records run out of space after its plan and first steps.
            let journal = "$d/journal"
            let common = ["--sysfs-root", host.sys, "--proc-root", fixture.proc, "--policy", fixture.policy,
                          "--state-dir", host.directory + "/state", "--no-journald", "--simulated-kernel"]
            let script = """
                set -u
                d=$(mktemp -d)
                mount -t tmpfs -o size=64k tmpfs "$d" || exit 3
                mkdir -m 0750 "\(journal)"
                dd if=/dev/zero of="$d/fill" bs=4k count=13 2>/dev/null
                export VFIO_WARDEN_SIMULATED_WRITE_LOG='\(host.writeLog)'
                \(quoted([cli, "assign", CrashOperation.e1000, "--owner", "vm1"] + common)) --journal "\(journal)" >/dev/null 2>'\(host.directory)/assign.err'
                echo "assign=$?"
                echo "writes=$(wc -l < '\(host.writeLog)' 2>/dev/null || echo 0)"
                \(quoted([cli, "journal", "verify"])) --journal "\(journal)" >/dev/null 2>&1
                echo "verify-full=$?"
                \(quoted([cli, "journal", "show", "--json"])) --journal "\(journal)" > '\(host.directory)/records.jsonl' 2>/dev/null
                rm "$d/fill"
                \(quoted([cli, "agent"] + common + ["--run-dir", host.directory + "/run", "--no-control-socket"])) --journal "\(journal)" >/dev/null 2>&1
                echo "agent=$?"
                \(quoted([cli, "journal", "verify"])) --journal "\(journal)" > '\(host.directory)/verify.txt' 2>&1
                echo "verify-after=$?"
                umount "$d"; rmdir "$d"
                """
            let output = try Self.shell(script)
            let values = Dictionary(output.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }, uniquingKeysWith: { $1 })
            #expect(values["assign"] != "0", "the assign exited 0 with its journal full: \(output)")
            #expect(values["verify-full"] == "1", "journal verify did not report the lost outcome: \(output)")

            // No intent, no write: every sysfs write of the assign follows a durable step_started of it.
            let records = try String(contentsOfFile: host.directory + "/records.jsonl", encoding: .utf8)
            let started = records.split(separator: "\n").filter { $0.contains(#""kind":"step_started""#) }.count
            let writes = Int(values["writes"]?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
            #expect(started >= 1, "the journal took no step at all; the test's free space is off: \(records)")
            #expect(writes >= 1 && writes <= started, "\(writes) sysfs writes, \(started) durable step_started records")

            #expect(values["agent"] == "0", "\(output)")
            let verify = try String(contentsOfFile: host.directory + "/verify.txt", encoding: .utf8)
            #expect(values["verify-after"] == "0", "journal verify after the agent recovered: \(verify)")
            let tree = TreeReader(sys: host.sys)
            let assignments = try AssignmentFile.read(host.directory + "/state/assignments.json")
            if assignments.isEmpty {
                #expect(tree.driver(CrashOperation.e1000) == "e1000" && tree.override(CrashOperation.e1000) == nil)
            } else {
                #expect(tree.driver(CrashOperation.e1000) == "vfio-pci" && tree.driver(CrashOperation.virtio) == "vfio-pci")
            }
        }
    }
}
