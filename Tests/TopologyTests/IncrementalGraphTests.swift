import Testing
import Sysfs
@testable import Topology
import SimulatedKernel

/// A small deterministic generator, so a failing sequence can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct IncrementalGraphTests {
    /// One random kernel-side happening on the current tree; returns the events it emitted.
    func randomHappening(_ kernel: SimulatedKernel, graph: TopologyGraph, step: Int, rng: inout SplitMix64) throws -> [DeviceEvent] {
        let devices = graph.sortedDevices
        let drivers = ["e1000", "e1000e", "vfio-pci", "pci-stub", "virtio-pci", "nvme"]
        switch Int.random(in: 0..<9, using: &rng) {
        case 0:
            // Hot-plug a new function behind the PCIe-to-PCI bridge (joins its group) or on a new root bus slot.
            let behindBridge = Bool.random(using: &rng)
            let slot = UInt8(4 + step % 28)
            let address = behindBridge
                ? PCIAddress(bus: 3, slot: slot, function: 0)
                : PCIAddress(bus: 0, slot: 3, function: UInt8(step % 8))
            guard graph.devices[address] == nil else { return [] }
            let group = behindBridge ? 4 : 100 + step
            let driver = Bool.random(using: &rng) ? drivers.randomElement(using: &rng) : nil
            return try kernel.hotplug(DeviceSpec(address, vendor: 0x8086, device: 0x100e, classCode: 0x020000,
                                                 driver: driver, group: group,
                                                 parent: behindBridge ? .literal("0000:00:02.0") : nil))
        case 1:
            // Unplug anything but the chipset and host bridge (which a real host never loses).
            // VFs go away through sriov_numvfs, not one by one.
            let candidates = devices.filter { ($0.address.bus != 0 || $0.address.slot == 3) && $0.physfn == nil }
            guard let victim = candidates.randomElement(using: &rng) else { return [] }
            return try kernel.unplug(victim.address)
        case 2, 3:
            guard let device = devices.filter({ $0.driver == nil && !$0.isBridge }).randomElement(using: &rng) else { return [] }
            return try kernel.bind(device.address, driver: drivers.randomElement(using: &rng)!)
        case 4:
            guard let device = devices.filter({ $0.driver != nil }).randomElement(using: &rng) else { return [] }
            return try kernel.unbind(device.address)
        case 5, 6:
            guard let pf = devices.first(where: { $0.sriov != nil }) else { return [] }
            let count = pf.sriov!.numVFs == 0 ? Int.random(in: 1...4, using: &rng) : 0
            return try kernel.setNumVFs(pf.address, to: count)
        case 7:
            // A change no uevent announces, then one that is announced: someone writes driver_override (the
            // kernel sends nothing), then a driver is bound or lets go. bind/unbind re-read only the binding, so
            // this checks that the override is part of it (a VF takes the same path; a PF is read in full).
            guard let device = devices.filter({ !$0.isBridge }).randomElement(using: &rng) else { return [] }
            let override = Bool.random(using: &rng) ? drivers.randomElement(using: &rng)! : ""
            try kernel.write(override, to: PCIPaths.attribute(.driverOverride, of: device.address))
            if device.driver != nil { return try kernel.unbind(device.address) }
            return try kernel.bind(device.address, driver: drivers.randomElement(using: &rng)!)
        default:
            // A PF's sriov_drivers_autoprobe (no uevent either), then its driver changes: a PF is read in full.
            guard let pf = devices.first(where: { $0.sriov != nil }), pf.sriov!.numVFs == 0 else { return [] }
            try kernel.write(Bool.random(using: &rng) ? "0" : "1", to: PCIPaths.attribute(.sriovDriversAutoprobe, of: pf.address))
            if pf.driver != nil { return try kernel.unbind(pf.address) }
            return try kernel.bind(pf.address, driver: "nvme")
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 1234, 99_991, 0xDEAD_BEEF, 7_777_777])
    func incrementalGraphEqualsAFreshScanAfterAnyEventSequence(seed: UInt64) throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            var rng = SplitMix64(state: seed)
            var applied = 0
            for step in 0..<60 {
                let events = try randomHappening(kernel, graph: graph, step: step, rng: &rng)
                for event in events { _ = graph.apply(event, reading: root) }
                applied += events.count
                let fresh = try TopologyGraph.scan(root: root)
                #expect(graph == fresh, "seed \(seed), step \(step): after \(events.map { "\($0.action) \($0.address)" })")
                if graph != fresh { return }
            }
            #expect(applied > 20, "the sequence should exercise the graph (seed \(seed) applied \(applied) events)")
        }
    }

    /// bind/unbind re-read only `driver` and `driver_override`: the problems of the other attributes stay where a
    /// full read puts them, and the binding's own problems (a dangling `driver` link) are those a scan reports.
    @Test func bindKeepsOtherProblemsInPlaceAndReportsTheBindingsOwn() throws {
        try withTemporaryRoot { root in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            let kernel = SimulatedKernel(tree: tree)
            let e1000 = PCIAddress.literal("0000:03:01.0")
            let directory = try tree.deviceDirectory(e1000)
            try tree.writeFile("\(directory)/vendor", "0x80")
            try tree.symlink("\(directory)/iommu_group", to: "kernel/iommu_groups/77")
            var graph = try TopologyGraph.scan(root: root)
            #expect(graph.devices[e1000]?.problems.map(\.attribute) == ["vendor", "iommu_group"])

            for event in try kernel.unbind(e1000) { _ = graph.apply(event, reading: root) }
            #expect(graph == (try TopologyGraph.scan(root: root)))

            try tree.symlink("\(directory)/driver", to: "bus/pci/drivers/gone")
            _ = graph.apply(DeviceEvent(action: .bind, address: e1000, driver: "gone"), reading: root)
            #expect(graph.devices[e1000]?.problems.map(\.attribute) == ["vendor", "driver", "iommu_group"])
            #expect(graph == (try TopologyGraph.scan(root: root)))

            try tree.removeItem("\(directory)/driver")
            try tree.writeFile("\(directory)/driver_override", "vfio-pci")
            let change = graph.apply(DeviceEvent(action: .unbind, address: e1000), reading: root)
            #expect(change.devices.first?.fields.map(\.field).contains("driver_override") == true)
            #expect(graph == (try TopologyGraph.scan(root: root)))
        }
    }

    /// The limit of the bind/unbind fast path, on purpose: an attribute the kernel never changes while a device
    /// exists (here `class`, rewritten behind the kernel's back) is not re-read by bind or unbind; the periodic
    /// resync (a full scan) finds it. On Linux, ids, class, group and `physfn` are fixed between `add` and `remove`.
    @Test func bindDoesNotRereadWhatOnlyAddAndRemoveChangeAndTheResyncDoes() throws {
        try withTemporaryRoot { root in
            let tree = try ExampleHosts.build(ExampleHosts.q35, at: root)
            let kernel = SimulatedKernel(tree: tree)
            let e1000 = PCIAddress.literal("0000:03:01.0")
            var graph = try TopologyGraph.scan(root: root)
            try tree.writeFile("\(try tree.deviceDirectory(e1000))/class", "0x010601")
            for event in try kernel.unbind(e1000) { _ = graph.apply(event, reading: root) }
            #expect(graph.devices[e1000]?.driver == nil)
            #expect(graph.devices[e1000]?.classCode == 0x020000)
            let change = try graph.rescan(root: root)
            #expect(change.devices.map(\.address) == [e1000])
            #expect(graph.devices[e1000]?.classCode == 0x010601)
            // A `change` event (what the engine applies after its own writes) reads the whole device.
            try tree.writeFile("\(try tree.deviceDirectory(e1000))/class", "0x020000")
            _ = graph.apply(DeviceEvent(action: .change, address: e1000), reading: root)
            #expect(graph == (try TopologyGraph.scan(root: root)))
        }
    }

    /// bind/unbind of a device the graph does not hold read nothing: the kernel's `add` comes first and is read.
    /// Out of that order (only when events were lost) the device waits for the rescan that losing events causes.
    @Test func bindOfAnUnknownDeviceWaitsForItsAddOrTheRescan() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            let address = PCIAddress.literal("0000:03:05.0")
            let events = try kernel.hotplug(DeviceSpec(address, vendor: 0x8086, device: 0x100e, classCode: 0x020000,
                                                       driver: "e1000", group: 4, parent: .literal("0000:00:02.0")))
            #expect(events.map(\.action) == [.add, .bind])
            #expect(graph.apply(events[1], reading: root).isEmpty, "bind before its add: nothing read")
            #expect(graph.devices[address] == nil)
            for event in events { _ = graph.apply(event, reading: root) }
            #expect(graph.devices[address]?.driver == "e1000")
            #expect(graph == (try TopologyGraph.scan(root: root)))
            // Its events lost: the rescan finds it.
            let second = PCIAddress.literal("0000:03:06.0")
            let lost = try kernel.hotplug(DeviceSpec(second, vendor: 0x8086, device: 0x100e, classCode: 0x020000,
                                                     driver: "e1000", group: 4, parent: .literal("0000:00:02.0")))
            _ = graph.apply(lost[1], reading: root)
            #expect(graph.devices[second] == nil)
            #expect(try graph.rescan(root: root).devices.map(\.address) == [second])
        }
    }

    /// Removing a bridge drops the functions behind it that are gone (found through the parent index).
    @Test func removingABridgeDropsItsSubtreeAheadOfTheirOwnEvents() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            let events = try kernel.unplug(.literal("0000:00:02.0"))
            let bridgeRemoval = try #require(events.first { $0.action == .remove && $0.address == .literal("0000:00:02.0") })
            let change = graph.apply(bridgeRemoval, reading: root)
            #expect(Set(change.devices.filter { $0.kind == .removed }.map(\.address))
                    == [.literal("0000:00:02.0"), .literal("0000:03:01.0"), .literal("0000:03:02.0")])
            #expect(graph == (try TopologyGraph.scan(root: root)))
            for event in events { _ = graph.apply(event, reading: root) }
            #expect(graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func unbindReportsTheDriverTheEventDidNotCarry() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            let events = try kernel.unbind(.literal("0000:03:01.0"))
            #expect(events.count == 1 && events[0].action == .unbind && events[0].driver == nil)
            let change = graph.apply(events[0], reading: root)
            #expect(change.devices == [DeviceChange(address: .literal("0000:03:01.0"), kind: .changed,
                                                    fields: [FieldChange(field: "driver", old: "e1000", new: nil)])])
            #expect(change.groups.isEmpty, "virtio-net still keeps group 4 not viable")
        }
    }

    @Test func bindingTheLastHostMemberMakesTheGroupViable() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            for event in try kernel.unbind(.literal("0000:03:01.0")) { _ = graph.apply(event, reading: root) }
            for event in try kernel.bind(.literal("0000:03:01.0"), driver: "vfio-pci") { _ = graph.apply(event, reading: root) }
            _ = try kernel.unbind(.literal("0000:03:02.0"))
            let events = try kernel.bind(.literal("0000:03:02.0"), driver: "vfio-pci")
            var change = GraphChange()
            for event in [DeviceEvent(action: .unbind, address: .literal("0000:03:02.0"))] + events {
                let step = graph.apply(event, reading: root)
                change.devices += step.devices
                change.groups += step.groups
            }
            #expect(change.groups.last?.group == 4)
            #expect(change.groups.last?.before?.viable == false)
            #expect(change.groups.last?.after?.viable == true)
        }
    }

    @Test func vfCreationUpdatesThePFAndAddsNewGroups() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            var changed: [DeviceChange] = []
            var groups: [GroupChange] = []
            for event in try kernel.setNumVFs(.literal("0000:02:00.0"), to: 2) {
                let change = graph.apply(event, reading: root)
                changed += change.devices
                groups += change.groups
            }
            #expect(changed.contains { $0.address == .literal("0000:02:00.1") && $0.kind == .added })
            #expect(changed.contains { $0.address == .literal("0000:02:00.0") && $0.fields.contains { $0.field == "sriov_numvfs" && $0.new == "2" } })
            #expect(Set(groups.filter { $0.before == nil }.map(\.group)) == [6, 7])
            #expect(graph == (try TopologyGraph.scan(root: root)))
        }
    }

    @Test func overflowRescanCatchesUpWithEverythingMissed() throws {
        try withTemporaryRoot { root in
            let kernel = SimulatedKernel(tree: try ExampleHosts.build(ExampleHosts.q35, at: root))
            var graph = try TopologyGraph.scan(root: root)
            // Events lost: the graph never sees these.
            try kernel.unbind(.literal("0000:01:00.0"))
            try kernel.setNumVFs(.literal("0000:02:00.0"), to: 3)
            try kernel.unplug(.literal("0000:03:02.0"))
            #expect(graph != (try TopologyGraph.scan(root: root)))
            let change = try graph.rescan(root: root)
            #expect(graph == (try TopologyGraph.scan(root: root)))
            #expect(change.devices.filter { $0.kind == .added }.count == 3)
            #expect(change.devices.filter { $0.kind == .removed }.map(\.address) == [.literal("0000:03:02.0")])
        }
    }
}
