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

    /// `parse` reads well-formed text from its bytes and leaves the rest to the splitting parser: over random text
    /// from the characters that matter, both accept the same strings with the same result.
    @Test func byteParserAgreesWithTheSplittingParser() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array("0123456789abcdefABCDEFg:.:.+- ")
        let templates = ["0000:03:01.0", "03:01.0", "0001:ff:1f.7", "1:2.3", "12345678:ab:1f.7", "123456789:00:00.0"]
        var accepted = 0
        for round in 0..<200_000 {
            var text: String
            if round % 2 == 0 {
                text = String((0..<Int(next() % 16)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] })
            } else { // a valid address with one character changed, dropped or added
                var characters = Array(templates[Int(next() % UInt64(templates.count))])
                let position = Int(next() % UInt64(characters.count))
                switch next() % 3 {
                case 0: characters[position] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: characters.remove(at: position)
                default: characters.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: position)
                }
                text = String(characters)
            }
            let fast = Array(text.utf8).withUnsafeBufferPointer { PCIAddress.fromUTF8($0) }
            let reference = try? PCIAddress.parseBySplitting(text)
            #expect(fast == reference, "'\(text)'")
            if fast != reference { return }
            if let fast {
                accepted += 1
                #expect(PCIAddress(fast.description) == fast)
            }
        }
        #expect(accepted > 10_000, "the rounds should include many valid addresses (\(accepted))")
    }

    @Test func ordersByDomainBusSlotFunction() throws {
        let addresses = try ["0000:03:01.0", "0000:00:1f.2", "0001:00:00.0", "0000:03:00.1"].map { try PCIAddress.parse($0) }
        #expect(addresses.sorted().map(\.description) == ["0000:00:1f.2", "0000:03:00.1", "0000:03:01.0", "0001:00:00.0"])
    }
}
