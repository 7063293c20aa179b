import Testing
import Reports
import SimulatedKernel
import Sysfs
import Topology

/// `watch`'s rendering of events and resyncs, from hand-made changes (no IO).
@Suite struct EventReportTests {
    static let e1000 = PCIAddress.literal("0000:03:01.0")
    static let bridgeGroup: [PCIAddress] = [.literal("0000:00:02.0"), .literal("0000:03:01.0"), .literal("0000:03:02.0")]
    static let unbind = DeviceEvent(action: .unbind, address: e1000, driver: nil, seqnum: 1003,
                                    devpath: "/devices/pci0000:00/0000:00:02.0/0000:03:01.0")
    static let unbindChange = GraphChange(
        devices: [DeviceChange(address: e1000, kind: .changed, fields: [FieldChange(field: "driver", old: "e1000", new: nil)])],
        groups: [GroupChange(group: 4, before: GroupSummary(members: bridgeGroup, viable: false),
                             after: GroupSummary(members: bridgeGroup, viable: true))]
    )

    @Test func anUnbindShowsTheOldDriverAndTheGroupTurningViable() {
        #expect(EventReport.humanLines(event: Self.unbind, change: Self.unbindChange) == [
            "unbind 0000:03:01.0 driver=- seqnum=1003",
            "  ~ 0000:03:01.0 driver e1000 → -",
            "  group 4: not viable → viable",
        ])
    }

    /// A uevent's DRIVER and a driver_override change come from outside: `watch` prints them escaped.
    @Test func controlCharactersFromAUeventPrintEscaped() {
        let event = DeviceEvent(action: .bind, address: Self.e1000, driver: "\u{1B}[31m\nvfio")
        let change = GraphChange(devices: [DeviceChange(address: Self.e1000, kind: .changed, fields: [
            FieldChange(field: "driver_override", old: nil, new: "\u{1B}[31m\nvfio")])])
        #expect(EventReport.humanLines(event: event, change: change) == [
            "bind 0000:03:01.0 driver=\\e[31m\\nvfio seqnum=-",
            "  ~ 0000:03:01.0 driver_override - → \\e[31m\\nvfio",
        ])
    }

    @Test func aBindWithoutSeqnumAndNoChange() {
        let event = DeviceEvent(action: .bind, address: Self.e1000, driver: "vfio-pci")
        #expect(EventReport.humanLines(event: event, change: GraphChange()) == [
            "bind 0000:03:01.0 driver=vfio-pci seqnum=-", "  (graph unchanged)",
        ])
    }

    @Test(arguments: [
        (DeviceChange(address: .literal("0000:02:00.1"), kind: .added, fields: [
            FieldChange(field: "vendor", old: nil, new: "1b36"), FieldChange(field: "driver", old: nil, new: "nvme"),
            FieldChange(field: "physfn", old: nil, new: "0000:02:00.0"),
        ]), "+ 0000:02:00.1 added: vendor 1b36, driver nvme, physfn 0000:02:00.0"),
        (DeviceChange(address: .literal("0000:02:00.1"), kind: .removed, fields: [
            FieldChange(field: "driver", old: "nvme", new: nil), FieldChange(field: "iommu_group", old: "6", new: nil),
        ]), "- 0000:02:00.1 removed (was driver nvme, iommu_group 6)"),
        (DeviceChange(address: .literal("0000:02:00.1"), kind: .removed, fields: []), "- 0000:02:00.1 removed"),
        (DeviceChange(address: .literal("0000:02:00.0"), kind: .changed, fields: [
            FieldChange(field: "virtfns", old: nil, new: "0000:02:00.1,0000:02:00.2"),
            FieldChange(field: "sriov_numvfs", old: "0", new: "2"),
        ]), "~ 0000:02:00.0 virtfns - → 0000:02:00.1,0000:02:00.2; sriov_numvfs 0 → 2"),
    ])
    func deviceLines(change: DeviceChange, expected: String) {
        #expect(EventReport.deviceLine(change) == expected)
    }

    @Test(arguments: [
        (GroupChange(group: 6, before: nil, after: GroupSummary(members: [.literal("0000:02:00.1")], viable: false)),
         "group 6: new, members 0000:02:00.1, not viable"),
        (GroupChange(group: 6, before: GroupSummary(members: [.literal("0000:02:00.1")], viable: true), after: nil),
         "group 6: gone (members were 0000:02:00.1)"),
        (GroupChange(group: 2, before: GroupSummary(members: [.literal("0000:00:1c.0"), .literal("0000:01:00.0")], viable: false),
                     after: GroupSummary(members: [.literal("0000:00:1c.0")], viable: true)),
         "group 2: members 0000:00:1c.0, 0000:01:00.0 → 0000:00:1c.0; not viable → viable"),
        (GroupChange(group: 4, before: GroupSummary(members: [.literal("0000:03:01.0")], viable: false),
                     after: GroupSummary(members: [.literal("0000:03:01.0"), .literal("0000:03:02.0")], viable: false)),
         "group 4: members 0000:03:01.0 → 0000:03:01.0, 0000:03:02.0; still not viable"),
    ])
    func groupLines(change: GroupChange, expected: String) {
        #expect(EventReport.groupLine(change) == expected)
    }

    @Test func aResyncSaysEventsWereLostThenWhatDiffered() {
        #expect(EventReport.humanResyncLines(change: Self.unbindChange) == [
            "resync: events were lost (receive buffer overflow); rescanned the whole graph",
            "  ~ 0000:03:01.0 driver e1000 → -",
            "  group 4: not viable → viable",
        ])
    }

    @Test func theJSONLineHasEveryKeyWithNullsForAbsentValues() {
        let members = #"["0000:00:02.0","0000:03:01.0","0000:03:02.0"]"#
        #expect(EventReport.jsonLine(event: Self.unbind, change: Self.unbindChange) == """
            {"action":"unbind","address":"0000:03:01.0","changes":{"devices":[{"address":"0000:03:01.0","fields":[{"field":"driver","new":null,"old":"e1000"}],"kind":"changed"}],"groups":[{"after":{"members":\(members),"viable":true},"before":{"members":\(members),"viable":false},"group":4}]},"devpath":"/devices/pci0000:00/0000:00:02.0/0000:03:01.0","driver":null,"seqnum":1003}
            """)
    }

    @Test func aNewGroupHasANullBeforeAndAnEventWithoutSeqnumANullSeqnum() {
        let event = DeviceEvent(action: .add, address: .literal("0000:02:00.1"))
        let change = GraphChange(groups: [GroupChange(group: 6, before: nil, after: GroupSummary(members: [.literal("0000:02:00.1")], viable: false))])
        #expect(EventReport.jsonLine(event: event, change: change) == """
            {"action":"add","address":"0000:02:00.1","changes":{"devices":[],"groups":[{"after":{"members":["0000:02:00.1"],"viable":false},"before":null,"group":6}]},"devpath":null,"driver":null,"seqnum":null}
            """)
    }

    @Test func anOverflowLineIsMarkedAndCarriesTheRescanChanges() {
        #expect(EventReport.jsonResyncLine(change: GraphChange()) == #"{"changes":{"devices":[],"groups":[]},"overflow":true}"#)
        let line = EventReport.jsonResyncLine(change: Self.unbindChange)
        #expect(line.hasSuffix(#","overflow":true}"#))
        #expect(line.contains(#"{"field":"driver","new":null,"old":"e1000"}"#))
        #expect(!line.contains("\n"))
    }
}
