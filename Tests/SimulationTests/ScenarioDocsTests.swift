import Foundation
import Testing
@testable import Simulation

/// Issue 13 item 13: the scenario format is documented (docs/scenarios.md), and what the document shows is what the
/// parser reads.
@Suite struct ScenarioDocsTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/scenarios.md")

    @Test func everyExampleInTheDocumentParses() throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        let blocks = text.components(separatedBy: "```toml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 2)
        for block in blocks {
            let scenario = try ScenarioParser.parse(text: block, file: "docs/scenarios.md")
            #expect(!scenario.steps.isEmpty)
        }
    }

    @Test func everyHappeningAndCommandIsDocumented() throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        for kind in ScenarioParser.kernelHappenings { #expect(text.contains("`kernel = \"\(kind)\"`"), "\(kind)") }
        for command in ScenarioParser.commands { #expect(text.contains("`command = \"\(command)\"`"), "\(command)") }
    }
}
