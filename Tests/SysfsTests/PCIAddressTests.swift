import Testing
@testable import Sysfs

@Suite struct PCIAddressTests {
    @Test(arguments: [
        ("0000:03:01.0", "0000:03:01.0"), ("03:01.0", "0000:03:01.0"), ("0001:ff:1f.7", "0001:ff:1f.7"),
        ("3:1.0", "0000:03:01.0"), ("0000:00:1F.2", "0000:00:1f.2"),
    ])
    func parsesFullAndShortForms(text: String, expected: String) throws {
        #expect(try PCIAddress.parse(text).description == expected)
    }

    @Test(arguments: [
        ("", "expected [domain:]bus:slot.function"), ("03:01", "expected slot.function"),
        ("0000:03:20.0", "slot '20'"), ("0000:03:01.8", "function '8'"), ("zz:01.0", "bus 'zz'"),
        ("0000:003:01.0", "bus '003'"), ("1:2:3:4.0", "expected [domain:]bus:slot.function"),
        ("g000:03:01.0", "domain 'g000'"), ("03:01.", "function ''"),
        ("+0:+1:+2.3", "'+' is not a hex digit"), ("0000:03:01.-0", "'-' is not a hex digit"),
    ])
    func rejectsMalformedAddressesSayingWhy(text: String, fragment: String) {
        #expect {
            try PCIAddress.parse(text)
        } throws: { error in
            (error as? PCIAddressError)?.description.contains(fragment) == true
        }
    }

    @Test func ordersByDomainBusSlotFunction() throws {
        let addresses = try ["0000:03:01.0", "0000:00:1f.2", "0001:00:00.0", "0000:03:00.1"].map { try PCIAddress.parse($0) }
        #expect(addresses.sorted().map(\.description) == ["0000:00:1f.2", "0000:03:00.1", "0000:03:01.0", "0001:00:00.0"])
    }
}
