import Foundation
import Testing
@testable import Sysfs
#if canImport(Glibc)
import Glibc
#endif

@Suite struct TerminalEscapingTests {
    @Test(arguments: [
        ("vfio-pci", "vfio-pci"),
        ("\u{1B}[31m\nvfio", "\\e[31m\\nvfio"),
        ("a\tb\rc\u{7}\u{0}\u{7F}", "a\\tb\\rc\\a\\x00\\x7f"),
        ("back\\slash", "back\\\\slash"),
        ("C1 \u{85} \u{9B}31m", "C1 \\u0085 \\u009b31m"),
        ("bidi \u{202E}txt.exe", "bidi \\u202etxt.exe"),
        ("Grüße, домен, 日本", "Grüße, домен, 日本"),
    ])
    func escapesWhatATerminalWouldObey(text: String, shown: String) {
        #expect(escapedForTerminal(text) == shown)
        #expect(!escapedForTerminal(text).unicodeScalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) })
    }

    @Test func invalidUTF8BytesAreShownAsBytes() {
        #expect(escapedForTerminal(bytes: [0x76, 0xFF, 0x66, 0xC3, 0xA9, 0xE2, 0x82, 0x0A]) == "v\\xfff\u{E9}\\xe2\\x82\\n")
        #expect(escapedForTerminal(bytes: Array("plain".utf8)) == "plain")
    }
}

@Suite struct OwnerNameTests {
    @Test(arguments: ["vm1", "libvirt:web1", "101", "default/pod-a", "libvirt:Windows 11", "libvirt:домен",
                      String(repeating: "x", count: OwnerName.maximumBytes)])
    func accepted(_ owner: String) throws {
        #expect(try OwnerName(owner).value == owner)
    }

    @Test(arguments: [
        ("", "it is empty"), ("  ", "it is blank"), (" vm1", "starts or ends with a space"),
        ("vm1\n  0000:00:1f.2: set driver_override \u{1B}[31m", "U+000A (a control character)"),
        ("vm\u{0}1", "U+0000"), ("vm\u{85}", "U+0085"), ("vm\u{202E}1", "U+202E (a format character)"),
        ("vm\u{A0}1", "U+00A0 (a space other than U+0020)"), ("vm\u{E000}", "private-use"), ("vm\u{FFFD}", "invalid UTF-8"),
        (String(repeating: "é", count: 65), "130 bytes long"),
    ])
    func refusedWithTheOwnerEscaped(owner: String, fragment: String) {
        do {
            _ = try OwnerName(owner)
            Issue.record("accepted \(owner.debugDescription)")
        } catch {
            #expect(error.description.contains(fragment), "\(error)")
            #expect(!error.description.unicodeScalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) })
        }
    }
}

/// Tests run as root: the check is about modes and owners, so each case makes them with chmod and chown.
@Suite(.serialized) struct StrictModesTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.path + "/strict-modes-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    @Test func aRootOwnedFileInRootOwnedDirectoriesIsTrusted() throws {
        try withDirectory { (directory: String) throws in
            let file = directory + "/policy.toml"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            chmod(file, 0o644)
            #expect(try StrictModes.problems(of: file).isEmpty)
            #expect(StrictModes.check(file, what: "the policy") == nil)
        }
    }

    @Test(arguments: [(0o666 as mode_t, "writable by others"), (0o664, "writable by its group"), (0o646, "writable by others")])
    func aWritableFileIsNamedWithItsMode(mode: mode_t, reason: String) throws {
        try withDirectory { (directory: String) throws in
            let file = directory + "/policy.toml"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            chmod(file, mode)
            let problems = try StrictModes.problems(of: file)
            #expect(problems.map(\.path) == [file])
            let message = StrictModes.check(file, what: "the policy") ?? ""
            #expect(message.contains("the policy \(file) is not trusted: \(file) (mode 0\(String(mode, radix: 8)), owner uid 0) is \(reason)"), "\(message)")
        }
    }

    @Test func aWritableDirectoryAboveIsNamed() throws {
        try withDirectory { (directory: String) throws in
            let inner = directory + "/etc"
            try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
            chmod(inner, 0o777)
            let file = inner + "/policy.toml"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            chmod(file, 0o600)
            #expect(try StrictModes.problems(of: file).map(\.path) == [inner])
            // Sticky and root-owned (like /tmp) is accepted for a directory above.
            chmod(inner, 0o1777)
            #expect(try StrictModes.problems(of: file).isEmpty)
        }
    }

    @Test func anotherOwnerIsNamed() throws {
        try withDirectory { (directory: String) throws in
            let file = directory + "/policy.toml"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            chmod(file, 0o644)
            #expect(chown(file, 65534, 65534) == 0)
            let problems = try StrictModes.problems(of: file)
            #expect(problems.count == 1)
            #expect(problems.first?.reason == "owned by uid 65534, not root")
        }
    }

    @Test func aSymlinkIsJudgedByWhatItPointsTo() throws {
        try withDirectory { (directory: String) throws in
            let target = directory + "/real.toml"
            #expect(FileManager.default.createFile(atPath: target, contents: Data()))
            chmod(target, 0o666)
            try FileManager.default.createSymbolicLink(atPath: directory + "/policy.toml", withDestinationPath: target)
            #expect(try StrictModes.problems(of: directory + "/policy.toml").map(\.path) == [target])
        }
    }

    @Test func aMissingFileIsAnErrorNamingIt() {
        #expect(throws: SysfsError.self) { try StrictModes.problems(of: "/nonexistent/policy.toml") }
    }
}
