import Foundation
import Testing

/// Issue 13 item 9: every example in README.md runs as pasted after the one `example-tree` command it gives, and
/// prints what the README shows. The commands run through /bin/sh from the top of the repository, with the built
/// executable first on PATH, as a reader would paste them.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct ReadmeExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    struct Block {
        var language: String
        var lines: [String]
    }

    /// The fenced code blocks of README.md.
    static func blocks() throws -> [Block] {
        let text = try String(contentsOfFile: repository + "/README.md", encoding: .utf8)
        var blocks: [Block] = []
        var current: Block?
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                if let block = current {
                    blocks.append(block)
                    current = nil
                } else {
                    current = Block(language: String(line.dropFirst(3)), lines: [])
                }
            } else {
                current?.lines.append(line)
            }
        }
        return blocks
    }

    /// Runs `script` with /bin/sh in the repository, the built executable first on PATH, `d` set.
    static func shell(_ script: String, d: String? = nil) throws -> CLI.Result {
        let directory = URL(fileURLWithPath: CLI.path!).deletingLastPathComponent().path
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = directory + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        if let d { environment["d"] = d }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: repository)
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                          errors: String(decoding: err, as: UTF8.self))
    }

    /// `[   46 ms]` and `16.16 ms` vary from run to run.
    static func withoutTimes(_ line: String) -> String {
        line.replacing(#/\[\s*\d+ ms\]/#, with: "[ms]").replacing(#/\d+\.\d+ ms/#, with: "N ms")
    }

    @Test func everyExampleRunsAsPastedAndPrintsWhatTheReadmeShows() throws {
        let blocks = try Self.blocks()
        let setup = try #require(blocks.first { $0.language == "sh" && $0.lines.contains { $0.contains("example-tree") } },
                                 "README.md gives the example-tree command the examples need")
        #expect(setup.lines.contains { $0.hasPrefix("d=") }, "the setup defines $d")
        let made = try Self.shell(setup.lines.joined(separator: "\n") + "\nprintf '%s' \"$d\"")
        #expect(made.status == 0, "\(setup.lines): \(made.errors)")
        let d = String(made.output.split(separator: "\n").last ?? "")
        #expect(d.hasPrefix("/"), "the setup printed \(made.output)")
        defer { try? FileManager.default.removeItem(atPath: d) }

        let examples = blocks.filter { $0.language == "text" && ($0.lines.first?.hasPrefix("$ vfio-warden ") ?? false) }
        #expect(examples.count >= 3, "list, check and show --xml")
        for example in examples {
            let command = String(example.lines[0].dropFirst(2))
            let shown = example.lines.dropFirst().joined(separator: "\n")
            let result = try Self.shell(command, d: d)
            #expect(result.errors.isEmpty, "\(command): \(result.errors)")
            #expect(result.output.trimmingCharacters(in: .newlines) == shown.trimmingCharacters(in: .newlines),
                    "\(command) prints, unlike the README:\n\(result.output)")
        }
    }

    @Test func theSimulateExcerptIsWhatSimulatePrints() throws {
        let blocks = try Self.blocks()
        let excerpt = try #require(blocks.first { $0.language == "text" && ($0.lines.first?.contains("scenario: built-in") ?? false) })
        let work = FileManager.default.temporaryDirectory.path + "/vfio-warden-readme-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let result = try Self.shell("vfio-warden simulate --work-dir '\(work)'")
        #expect(result.status == 0, "\(result.errors)")
        let printed = result.output.components(separatedBy: "\n").map(Self.withoutTimes)
        // Each line of the excerpt, in order ("..." skips lines).
        var next = printed.startIndex
        for line in excerpt.lines where line != "..." {
            let wanted = Self.withoutTimes(line)
            guard let found = printed[next...].firstIndex(of: wanted) else {
                Issue.record("the README's simulate excerpt has a line simulate does not print (in that order): \(line)")
                return
            }
            next = found + 1
        }
    }
}
