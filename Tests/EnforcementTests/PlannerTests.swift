import Testing
import Sysfs
import Topology
import SimulatedKernel
@testable import Enforcement

/// The planner as a pure function: graphs built in memory, no files.
@Suite struct PlannerTests {
    static let e1000: PCIAddress = .literal("0000:03:01.0")
    static let virtio: PCIAddress = .literal("0000:03:02.0")
    static let pciBridge: PCIAddress = .literal("0000:00:02.0")
    static let ahci: PCIAddress = .literal("0000:00:1f.2")
    static let lpc: PCIAddress = .literal("0000:00:1f.0")
    static let smbus: PCIAddress = .literal("0000:00:1f.3")
    static let nvme: PCIAddress = .literal("0000:02:00.0")
    static let e1000e: PCIAddress = .literal("0000:01:00.0")

    /// The q35 example host as a graph, straight from its specs.
    static func q35Graph(_ change: (inout [PCIDevice]) -> Void = { _ in }) -> TopologyGraph {
        var devices = ExampleHosts.q35.map { spec in
            PCIDevice(address: spec.address, vendorID: spec.vendorID, deviceID: spec.deviceID, classCode: spec.classCode,
                      driver: spec.driver, iommuGroup: spec.iommuGroup, parent: spec.parent,
                      sriov: spec.sriovTotalVFs.map { SRIOVState(totalVFs: $0, numVFs: 0, driversAutoprobe: true) })
        }
        change(&devices)
        return TopologyGraph(devices: devices)
    }

    static func context(graph: TopologyGraph = q35Graph(), managed: [PCIAddress], protected: [PCIAddress: String] = [:],
                        hostUse: [PCIAddress: [String]] = [:], assignments: [Assignment] = [],
                        drivers: Set<String> = ["vfio-pci", "pci-stub", "e1000", "virtio-pci", "nvme"],
                        sriov: [SRIOVRule] = []) -> PlannerContext {
        var verdicts: [PCIAddress: DeviceVerdict] = [:]
        for address in graph.devices.keys {
            verdicts[address] = DeviceVerdict(managedBy: managed.contains(address) ? "manage.devices" : nil,
                                              protectedBy: protected[address], hostUse: hostUse[address] ?? [])
        }
        return PlannerContext(graph: graph, verdicts: VerdictTable(verdicts, hasAllowlist: !managed.isEmpty),
                              assignments: AssignmentTable(assignments), loadedDrivers: drivers,
                              sriovRules: Dictionary(uniqueKeysWithValues: sriov.map { ($0.pf, $0) }))
    }

    @Test func assigningTheE1000IsolatesTheVirtioNetBesideItAndLeavesTheBridge() throws {
        let results = Planner.assign([Self.e1000], owner: "vm1", in: Self.context(managed: [Self.e1000, Self.virtio]))
        let (plan, assignment) = try #require(results.first)
        #expect(results.count == 1)
        #expect(plan.refusals.isEmpty)
        #expect(plan.group == 4)
        #expect(plan.steps.map(\.description) == [
            "0000:03:01.0: set driver_override to vfio-pci",
            "0000:03:01.0: unbind from e1000",
            "0000:03:01.0: probe drivers, expect vfio-pci",
            "0000:03:02.0: set driver_override to vfio-pci",
            "0000:03:02.0: unbind from virtio-pci",
            "0000:03:02.0: probe drivers, expect vfio-pci",
        ])
        #expect(plan.unchanged == [Plan.Note(Self.pciBridge, "bridge stays on no driver")])
        let recorded = try #require(assignment)
        #expect(recorded.owner == "vm1")
        #expect(recorded.members.map(\.originalDriver) == [nil, "e1000", "virtio-pci"])
        #expect(recorded.requested.map(\.description) == ["0000:03:01.0 [8086:100e]"])
    }

    @Test func aSiblingOutsideTheAllowlistRefusesTheWholeGroup() throws {
        let (plan, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: Self.context(managed: [Self.e1000])).first)
        #expect(assignment == nil)
        #expect(plan.refusals == [Plan.Note(Self.virtio, "is outside the allowlist ([manage]), so it may not be written")])
    }

    @Test func theChipsetGroupWithTheHostDiskIsRefusedWithEveryReason() throws {
        let context = Self.context(managed: [Self.ahci, Self.smbus], protected: [Self.lpc: "protect.devices"],
                                   hostUse: [Self.ahci: ["backs / (mounted filesystem on sda1, 8:1)"]])
        let (plan, _) = try #require(Planner.assign([Self.ahci], owner: "vm1", in: context).first)
        #expect(plan.refusals.map(\.description) == [
            "0000:00:1f.0: is protected by the policy (protect.devices)",
            "0000:00:1f.0: is outside the allowlist ([manage]), so it may not be written",
            "0000:00:1f.2: is in use by the host: backs / (mounted filesystem on sda1, 8:1)",
        ])
    }

    @Test func aGroupHeldByAnotherOwnerIsRefusedNamingTheHolder() throws {
        let context = Self.context(managed: [Self.e1000, Self.virtio])
        let (_, first) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
        var held = context
        held.assignments = AssignmentTable([try #require(first)])
        let (plan, _) = try #require(Planner.assign([Self.virtio], owner: "vm2", in: held).first)
        #expect(plan.refusals.map(\.description) == ["0000:03:02.0: its group 4 is already assigned to vm1"])
        // The same owner asking again is not refused, and what was remembered stays.
        let (again, assignment) = try #require(Planner.assign([Self.virtio], owner: "vm1", in: held).first)
        #expect(again.refusals.isEmpty)
        #expect(assignment?.members == first?.members)
        #expect(assignment?.requested.map(\.address) == [Self.e1000, Self.virtio])
    }

    @Test(arguments: [
        (Set(["pci-stub"]), "driver vfio-pci is not loaded (no bus/pci/drivers/vfio-pci): modprobe vfio-pci"),
    ])
    func aMissingIsolationDriverIsRefused(drivers: Set<String>, reason: String) throws {
        let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1",
                                                    in: Self.context(managed: [Self.e1000, Self.virtio], drivers: drivers)).first)
        #expect(plan.refusals.map(\.description) == [reason])
    }

    @Test func withoutAnAllowlistEverythingIsRefused() throws {
        let (plan, _) = try #require(Planner.assign([Self.e1000e], owner: "vm1", in: Self.context(managed: [])).first)
        #expect(plan.refusals.first?.reason.contains("monitor-only") == true)
    }

    @Test func aPFWithVFsEnabledIsRefused() throws {
        let graph = Self.q35Graph { devices in
            let index = devices.firstIndex { $0.address == Self.nvme }!
            devices[index].sriov = SRIOVState(totalVFs: 4, numVFs: 2, driversAutoprobe: false)
        }
        let (plan, _) = try #require(Planner.assign([Self.nvme], owner: "vm1", in: Self.context(graph: graph, managed: [Self.nvme])).first)
        #expect(plan.refusals.map(\.description) == [
            "0000:02:00.0: has 2 VFs enabled; unbinding its driver would remove them (write 0 to sriov_numvfs first)"])
    }

    @Test func aDeviceWithoutAGroupCannotBeIsolated() throws {
        let graph = Self.q35Graph { devices in devices = devices.map { var d = $0; d.iommuGroup = nil; return d } }
        let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: Self.context(graph: graph, managed: [Self.e1000])).first)
        #expect(plan.refusals.first?.reason.contains("no IOMMU group") == true)
        let (unknown, _) = try #require(Planner.assign([.literal("0000:09:00.0")], owner: "vm1", in: Self.context(managed: [Self.e1000])).first)
        #expect(unknown.refusals.map(\.description) == ["0000:09:00.0: no such PCI device"])
    }

    @Test func quarantinedSiblingsGetNoDriverAtAll() throws {
        let (plan, _) = try #require(Planner.assign([Self.e1000], owner: "vm1", siblings: .none,
                                                    in: Self.context(managed: [Self.e1000, Self.virtio])).first)
        #expect(plan.steps.filter { $0.address == Self.virtio }.map(\.description) == [
            "0000:03:02.0: set driver_override to none",
            "0000:03:02.0: unbind from virtio-pci",
        ])
    }

    @Test func aQuarantinedSiblingStaysQuarantinedAtTheNextResync() throws {
        let (_, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", siblings: .none,
                                                          in: Self.context(managed: [Self.e1000, Self.virtio])).first)
        #expect(try #require(assignment).members.first { $0.identity.address == Self.virtio }?.keptOn == "none")
        let quarantined = Self.q35Graph { devices in
            for index in devices.indices where devices[index].address == Self.e1000 {
                devices[index].driver = "vfio-pci"
                devices[index].driverOverride = "vfio-pci"
            }
            for index in devices.indices where devices[index].address == Self.virtio {
                devices[index].driver = nil
                devices[index].driverOverride = "none"
            }
        }
        var held = Self.context(graph: quarantined, managed: [Self.e1000, Self.virtio])
        held.assignments = AssignmentTable([try #require(assignment)])
        #expect(Planner.enforceAll(in: held).isEmpty)
    }

    @Test func anUnboundMemberWhoseOverrideNamesVFIOIsProbed() throws {
        let context = Self.context(managed: [Self.e1000, Self.virtio])
        let (_, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
        // An isolation cut short between the unbind and the probe.
        let halfDone = Self.q35Graph { devices in
            for index in devices.indices where [Self.e1000, Self.virtio].contains(devices[index].address) {
                devices[index].driver = devices[index].address == Self.e1000 ? nil : "vfio-pci"
                devices[index].driverOverride = "vfio-pci"
            }
        }
        var held = Self.context(graph: halfDone, managed: [Self.e1000, Self.virtio])
        held.assignments = AssignmentTable([try #require(assignment)])
        #expect(Planner.enforce(Self.e1000, in: held)?.steps.map(\.description) == ["0000:03:01.0: probe drivers, expect vfio-pci"])
    }

    @Test func releaseRestoresEachMembersOriginalDriver() throws {
        let context = Self.context(managed: [Self.e1000, Self.virtio])
        let (_, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
        // The group as it is once isolated.
        let isolated = Self.q35Graph { devices in
            for index in devices.indices where [Self.e1000, Self.virtio].contains(devices[index].address) {
                devices[index].driver = "vfio-pci"
                devices[index].driverOverride = "vfio-pci"
            }
        }
        var held = Self.context(graph: isolated, managed: [Self.e1000, Self.virtio])
        held.assignments = AssignmentTable([try #require(assignment)])
        let (plan, remaining) = try #require(Planner.release(owner: "vm1", addresses: [], in: held).first)
        #expect(remaining == nil)
        #expect(plan.steps.map(\.description) == [
            "0000:03:01.0: clear driver_override",
            "0000:03:01.0: unbind from vfio-pci",
            "0000:03:01.0: bind to e1000",
            "0000:03:02.0: clear driver_override",
            "0000:03:02.0: unbind from vfio-pci",
            "0000:03:02.0: bind to virtio-pci",
        ])
        #expect(Planner.release(owner: "vm9", addresses: [], in: held).first?.plan.refusals.map(\.description) == ["vm9 holds no assignment"])
        #expect(Planner.release(owner: nil, addresses: [Self.ahci], in: held).first?.plan.refusals.map(\.description) == ["0000:00:1f.2: is not assigned"])
    }

    @Test func releasingOneOfTwoRequestedDevicesKeepsTheGroupIsolated() throws {
        let context = Self.context(managed: [Self.e1000, Self.virtio])
        let (_, assignment) = try #require(Planner.assign([Self.e1000, Self.virtio], owner: "vm1", in: context).first)
        var held = context
        held.assignments = AssignmentTable([try #require(assignment)])
        let (plan, remaining) = try #require(Planner.release(owner: nil, addresses: [Self.e1000], in: held).first)
        #expect(plan.steps.isEmpty)
        #expect(remaining?.requested.map(\.address) == [Self.virtio])
    }

    @Test func aHostDriverClaimingAnAssignedMemberIsPutBack() throws {
        let context = Self.context(managed: [Self.e1000, Self.virtio])
        let (_, assignment) = try #require(Planner.assign([Self.e1000], owner: "vm1", in: context).first)
        // virtio-net isolated, but e1000 claimed back by its host driver.
        let graph = Self.q35Graph { devices in
            for index in devices.indices where devices[index].address == Self.virtio {
                devices[index].driver = "vfio-pci"
                devices[index].driverOverride = "vfio-pci"
            }
            for index in devices.indices where devices[index].address == Self.e1000 {
                devices[index].driverOverride = "vfio-pci"
            }
        }
        var held = Self.context(graph: graph, managed: [Self.e1000, Self.virtio])
        held.assignments = AssignmentTable([try #require(assignment)])
        let plan = try #require(Planner.enforce(Self.e1000, in: held))
        #expect(plan.kind == .enforce && plan.owner == "vm1" && plan.refusals.isEmpty)
        #expect(plan.steps.map(\.description) == ["0000:03:01.0: unbind from e1000", "0000:03:01.0: probe drivers, expect vfio-pci"])
        #expect(Planner.enforce(Self.virtio, in: held) == nil, "already isolated")
        #expect(Planner.enforce(Self.ahci, in: held) == nil, "not held by anything")
        #expect(Planner.enforceAll(in: held).map(\.targets) == [[Self.e1000]])

        var unmanaged = held
        unmanaged.verdicts.verdicts[Self.e1000]?.managedBy = nil
        #expect(Planner.enforce(Self.e1000, in: unmanaged)?.refusals.first?.reason.contains("violated") == true)
    }

    @Test func aVFUnderAnSRIOVRuleIsKeptOnItsDriver() throws {
        let vf = PCIAddress.literal("0000:02:00.1")
        let graph = Self.q35Graph { devices in
            devices.append(PCIDevice(address: vf, vendorID: 0x1b36, deviceID: 0x0010, classCode: 0x010802, driver: "nvme",
                                     iommuGroup: 6, parent: .literal("0000:00:1c.1"), physfn: Self.nvme))
        }
        let context = Self.context(graph: graph, managed: [Self.e1000], sriov: [SRIOVRule(pf: Self.nvme, numVFs: 2, managesPF: true)])
        let plan = try #require(Planner.enforce(vf, in: context))
        #expect(plan.refusals.isEmpty)
        #expect(plan.steps.map(\.description) == [
            "0000:02:00.1: set driver_override to vfio-pci", "0000:02:00.1: unbind from nvme", "0000:02:00.1: probe drivers, expect vfio-pci"])
    }

    @Test func anSRIOVRuleTurnsAutoprobeOffBeforeCreatingVFs() {
        let context = Self.context(managed: [Self.e1000], sriov: [])
        let plan = Planner.sriov(SRIOVRule(pf: Self.nvme, numVFs: 3, managesPF: true), in: context)
        #expect(plan.refusals.isEmpty)
        #expect(plan.steps.map(\.description) == ["0000:02:00.0: set sriov_drivers_autoprobe to 0", "0000:02:00.0: set sriov_numvfs to 3"])
        #expect(Planner.sriov(SRIOVRule(pf: Self.nvme, numVFs: 9, managesPF: true), in: context).refusals.map(\.description)
                == ["0000:02:00.0: numvfs 9 is more than its sriov_totalvfs 4"])
        #expect(Planner.sriov(SRIOVRule(pf: Self.e1000, numVFs: 1, managesPF: true), in: context).refusals.map(\.description)
                == ["0000:03:01.0: is not SR-IOV capable (no sriov_totalvfs)"])
        let withTwo = Self.q35Graph { devices in
            let index = devices.firstIndex { $0.address == Self.nvme }!
            devices[index].sriov = SRIOVState(totalVFs: 4, numVFs: 2, driversAutoprobe: false)
        }
        #expect(Planner.sriov(SRIOVRule(pf: Self.nvme, numVFs: 3, managesPF: true), in: Self.context(graph: withTwo, managed: [Self.e1000])).steps.map(\.description)
                == ["0000:02:00.0: set sriov_numvfs to 0", "0000:02:00.0: set sriov_numvfs to 3"])
    }
}
