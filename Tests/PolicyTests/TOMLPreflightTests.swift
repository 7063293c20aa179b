import Testing
@testable import Policy

/// Inputs on which TOMLKit's toml++ fails an assert and aborts (found by fuzzing, `Fuzz/Crashes/`): each must be
/// an error with a position instead, and valid documents must pass untouched.
@Suite struct TOMLPreflightTests {
    @Test(arguments: [
        ("[\n", "1:1", "a table header must start with a key"),
        ("[\u{16}manage]\n", "1:1", "a table header must start with a key"),
        ("[=]\n", "1:1", "a table header must start with a key"),
        ("[é]\n", "1:1", "a table header must start with a key"),
        ("[manage]\ndevices = []\n[[\n", "3:1", "a table header must start with a key"),
        ("a = [}]\n", "1:6", "'}' closes nothing here"),
        ("a = { b = ] }\n", "1:11", "']' closes nothing here"),
        ("a = 1\n}\n", "2:1", "'}' closes nothing here"),
    ])
    func documentsThatWouldAbortTheParserAreErrors(text: String, position: String, message: String) {
        #expect(TOMLPreflight.check(text).map { "\($0.position)" } == position)
        #expect(TOMLPreflight.check(text)?.message.hasPrefix(message) == true)
        #expect {
            try Policy.parse(text: text, file: "p.toml")
        } throws: { error in
            "\(error)".contains("p.toml:\(position): not valid TOML: \(message)")
        }
    }

    @Test(arguments: [
        "[manage]\ndevices = [\n  \"0000:03:01.0\", # a NIC ]\n  { address = \"0000:03:02.0\", ids = \"1af4:1000\" },\n]\n",
        "  [ manage ]\nids = [\"8086:10d3\"]\n[[assign]]\ndevice = \"0000:01:00.0\"\nowner = \"a]b}c\"\n",
        "[\"quoted.table\"]\nx = '''[}]'''\n[a.b]\ny = [[1, 2], [3]]\n",
        "# [ comment only\n",
    ])
    func validDocumentsPass(text: String) {
        #expect(TOMLPreflight.check(text) == nil)
    }
}
