import Testing
@testable import Topology

@Suite struct AttributeParsersTests {
    @Test(arguments: [("0x8086", 4, UInt32?(0x8086)), ("0x8086\n", 4, 0x8086), ("0x80", 4, nil), ("8086", 4, nil),
                      ("0x010601", 6, 0x010601), ("0x0106", 6, nil), ("", 4, nil), ("0xzzzz", 4, nil),
                      ("0x+123", 4, nil), ("0x-123", 4, nil)])
    func hexIDs(text: String, digits: Int, expected: UInt32?) {
        #expect(AttributeParsers.hexID(text, digits: digits) == expected)
    }

    @Test func driverOverrideNullIsUnset() {
        #expect(AttributeParsers.driverOverride("(null)\n") == nil)
        #expect(AttributeParsers.driverOverride("") == nil)
        #expect(AttributeParsers.driverOverride("vfio-pci\n") == "vfio-pci")
    }

    @Test func parentBridgeFromCanonicalPath() {
        #expect(AttributeParsers.parentBridge(devicePathTarget: "../../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0")?.description == "0000:00:1c.0")
        #expect(AttributeParsers.parentBridge(devicePathTarget: "../../../devices/pci0000:00/0000:00:1f.2") == nil)
    }
}
