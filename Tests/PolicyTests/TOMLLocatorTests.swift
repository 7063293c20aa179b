import Policy
import Testing

@Suite("Locating TOML values in the text")
struct TOMLLocatorTests {
    static let text = """
        # a comment with [brackets] and = signs
        title = "a # not a comment ] }"
        [manage]
        devices = [
            "0000:03:01.0",   # first
            { address = "0000:03:02.0", ids = "1af4:1000" },
        ]
        "quoted.key" = 'x'
        [[assign]]
        device = "01:00.0"
        [[assign]]
          owner = \"\"\"multi
        line\"\"\"
        device = "03:01.0"
        [sub.table]
        a.b = 1979-05-27 07:32:00
        c = 1
        """

    @Test("Positions of keys and values", arguments: [
        ("title", 2, 9),
        ("manage", 3, 2),
        ("manage.devices", 4, 11),
        ("manage.devices[0]", 5, 5),
        ("manage.devices[1]", 6, 5),
        ("manage.devices[1].address", 6, 17),
        ("manage.devices[1].ids", 6, 39),
        ("manage.quoted.key", 8, 16),
        ("assign[0].device", 10, 10),
        ("assign[1]", 11, 3),
        ("assign[1].owner", 12, 11),
        ("assign[1].device", 14, 10),
        ("sub.table.a.b", 16, 7),
        ("sub.table.c", 17, 5),
    ])
    func positions(_ path: String, _ line: Int, _ column: Int) {
        let locator = TOMLLocator(text: Self.text)
        #expect(locator.position(of: path) == SourcePosition(line: line, column: column))
    }

    @Test("Key positions, and fallback to the enclosing path")
    func keysAndFallback() {
        let locator = TOMLLocator(text: Self.text)
        #expect(locator.keyPosition(of: "manage.devices[1].ids") == SourcePosition(line: 6, column: 33))
        #expect(locator.keyPosition(of: "assign[1].owner") == SourcePosition(line: 12, column: 3))
        // A path the text does not hold falls back to its closest ancestor.
        #expect(locator.position(of: "manage.devices[1].serial") == SourcePosition(line: 6, column: 5))
    }

    @Test("Malformed text never hangs or crashes the locator", arguments: [
        "a = [}]", "x = {a = }", "[[", "= = =", "a = \"unterminated", "k = '''never closed", "[t\n]]]\n{", "a = [1, {b = [}, 2]",
    ])
    func malformed(_ text: String) {
        let locator = TOMLLocator(text: text)
        #expect(locator.values.count <= text.count)
    }

    @Test("Keys and values inside [[array-of-tables]]")
    func arrayOfTablesPositions() {
        let locator = TOMLLocator(text: "[manage]\ndevices = [\"0000:03:01.0\"]\n[[sriov]]\npf = \"02:00.0\"\nnumvfs = 2\n")
        #expect(locator.keys["sriov[0].numvfs"] == SourcePosition(line: 5, column: 1))
        #expect(locator.values["sriov[0].numvfs"] == SourcePosition(line: 5, column: 10))
        #expect(locator.values["manage.devices[0]"] == SourcePosition(line: 2, column: 12))
    }
}
