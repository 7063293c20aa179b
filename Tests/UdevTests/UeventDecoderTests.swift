import Testing
import Sysfs
import Topology
@testable import Udev

/// The properties of real uevents as `udevadm monitor --property` shows them (REAL-KERNEL-RIG.md), and broken ones.
@Suite struct UeventDecoderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var properties: [String: String]
        var expected: DeviceEvent
        var testDescription: String { name }
    }

    static let devpath = "/devices/pci0000:00/0000:00:02.0/0000:03:01.0"

    static let valid: [Case] = [
        Case(name: "bind carries DRIVER", properties: [
            "ACTION": "bind", "DEVPATH": devpath, "SUBSYSTEM": "pci", "DRIVER": "vfio-pci",
            "PCI_SLOT_NAME": "0000:03:01.0", "PCI_ID": "8086:100E", "SEQNUM": "2301",
        ], expected: DeviceEvent(action: .bind, address: .literal("0000:03:01.0"), driver: "vfio-pci", seqnum: 2301, devpath: devpath)),
        Case(name: "unbind carries no DRIVER", properties: [
            "ACTION": "unbind", "DEVPATH": devpath, "SUBSYSTEM": "pci", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "2300",
        ], expected: DeviceEvent(action: .unbind, address: .literal("0000:03:01.0"), driver: nil, seqnum: 2300, devpath: devpath)),
        Case(name: "add of a VF without a driver yet", properties: [
            "ACTION": "add", "DEVPATH": "/devices/pci0000:00/0000:00:1c.1/0000:02:00.1", "SUBSYSTEM": "pci",
            "PCI_SLOT_NAME": "0000:02:00.1", "SEQNUM": "18446744073709551615",
        ], expected: DeviceEvent(action: .add, address: .literal("0000:02:00.1"), seqnum: .max,
                                 devpath: "/devices/pci0000:00/0000:00:1c.1/0000:02:00.1")),
        Case(name: "remove", properties: [
            "ACTION": "remove", "DEVPATH": devpath, "SUBSYSTEM": "pci", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "7",
        ], expected: DeviceEvent(action: .remove, address: .literal("0000:03:01.0"), seqnum: 7, devpath: devpath)),
        Case(name: "change of a PF after sriov_numvfs, with its driver", properties: [
            "ACTION": "change", "DEVPATH": "/devices/pci0000:00/0000:00:1c.1/0000:02:00.0", "SUBSYSTEM": "pci",
            "PCI_SLOT_NAME": "0000:02:00.0", "DRIVER": "nvme", "SEQNUM": "40",
        ], expected: DeviceEvent(action: .change, address: .literal("0000:02:00.0"), driver: "nvme", seqnum: 40,
                                 devpath: "/devices/pci0000:00/0000:00:1c.1/0000:02:00.0")),
        Case(name: "missing PCI_SLOT_NAME falls back to DEVPATH", properties: [
            "ACTION": "remove", "DEVPATH": devpath, "SUBSYSTEM": "pci", "SEQNUM": "8",
        ], expected: DeviceEvent(action: .remove, address: .literal("0000:03:01.0"), seqnum: 8, devpath: devpath)),
        Case(name: "garbled PCI_SLOT_NAME falls back to DEVPATH", properties: [
            "ACTION": "bind", "DEVPATH": devpath, "PCI_SLOT_NAME": "0000:03:01", "DRIVER": "e1000",
        ], expected: DeviceEvent(action: .bind, address: .literal("0000:03:01.0"), driver: "e1000", devpath: devpath)),
        Case(name: "empty DRIVER is no driver, no SEQNUM is nil, no SUBSYSTEM is accepted", properties: [
            "ACTION": "unbind", "PCI_SLOT_NAME": "0001:ff:1f.7", "DRIVER": "",
        ], expected: DeviceEvent(action: .unbind, address: .literal("0001:ff:1f.7"))),
        Case(name: "moved device", properties: [
            "ACTION": "move", "DEVPATH": devpath, "DEVPATH_OLD": "/devices/x", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "9",
        ], expected: DeviceEvent(action: .move, address: .literal("0000:03:01.0"), seqnum: 9, devpath: devpath)),
    ]

    @Test(arguments: valid)
    func decodesRealEvents(_ testCase: Case) throws {
        #expect(try UeventDecoder.decode(testCase.properties) == testCase.expected)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var properties: [String: String]
        var problem: UeventDecodeError.Problem
        /// A fragment the message must contain.
        var says: String
        var testDescription: String { name }
    }

    static let invalid: [BadCase] = [
        BadCase(name: "no ACTION", properties: ["PCI_SLOT_NAME": "0000:03:01.0"], problem: .missingAction, says: "no ACTION"),
        BadCase(name: "empty ACTION", properties: ["ACTION": "", "PCI_SLOT_NAME": "0000:03:01.0"], problem: .missingAction, says: "no ACTION"),
        BadCase(name: "unknown ACTION", properties: ["ACTION": "explode", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "5"],
                problem: .unknownAction("explode"), says: "unknown ACTION 'explode' (expected one of add, remove, bind, unbind"),
        BadCase(name: "upper-case ACTION", properties: ["ACTION": "ADD", "PCI_SLOT_NAME": "0000:03:01.0"],
                problem: .unknownAction("ADD"), says: "unknown ACTION 'ADD'"),
        BadCase(name: "not a PCI event", properties: ["ACTION": "add", "SUBSYSTEM": "usb", "DEVPATH": "/devices/usb1/1-1"],
                problem: .notPCI(subsystem: "usb"), says: "SUBSYSTEM is 'usb', not 'pci'"),
        BadCase(name: "no address anywhere", properties: ["ACTION": "add", "SUBSYSTEM": "pci"],
                problem: .noAddress(slotName: nil, devpath: nil), says: "no PCI_SLOT_NAME and no DEVPATH"),
        BadCase(name: "garbled slot and a DEVPATH that does not end in an address",
                properties: ["ACTION": "add", "PCI_SLOT_NAME": "0000:03:99.0", "DEVPATH": "/devices/pci0000:00"],
                problem: .noAddress(slotName: "0000:03:99.0", devpath: "/devices/pci0000:00"),
                says: "PCI_SLOT_NAME '0000:03:99.0' is not a PCI address and DEVPATH '/devices/pci0000:00' does not end in one"),
        BadCase(name: "non-numeric SEQNUM", properties: ["ACTION": "bind", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "12a"],
                problem: .badSeqnum("12a"), says: "SEQNUM '12a' is not a decimal number"),
        BadCase(name: "negative SEQNUM", properties: ["ACTION": "bind", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "-1"],
                problem: .badSeqnum("-1"), says: "SEQNUM '-1'"),
        BadCase(name: "SEQNUM beyond 64 bits", properties: ["ACTION": "bind", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "18446744073709551616"],
                problem: .badSeqnum("18446744073709551616"), says: "is not a decimal number"),
    ]

    @Test(arguments: invalid)
    func rejectsBrokenEventsSayingWhy(_ testCase: BadCase) {
        #expect {
            try UeventDecoder.decode(testCase.properties)
        } throws: { error in
            guard let error = error as? UeventDecodeError else { return false }
            return error.problem == testCase.problem && error.properties == testCase.properties
                && error.description.hasPrefix("cannot decode uevent") && error.description.contains(testCase.says)
        }
    }

    @Test func theMessageNamesTheSeqnumOfTheBrokenEvent() {
        let error = #expect(throws: UeventDecodeError.self) {
            try UeventDecoder.decode(["ACTION": "explode", "PCI_SLOT_NAME": "0000:03:01.0", "SEQNUM": "77"])
        }
        #expect(error?.description.hasPrefix("cannot decode uevent (SEQNUM 77): unknown ACTION 'explode'") == true)
    }
}
