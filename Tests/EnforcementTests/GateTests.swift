import Testing
import Sysfs
import Topology
import SimulatedKernel
@testable import Enforcement

/// Issue 12: each gate attacked on each planning path (release, enforce, sriov), as a careless operator or
/// another tool would. Every test here failed before its gate existed.
@Suite struct GateTests {
    typealias P = PlannerTests
    static let vf1: PCIAddress = .literal("0000:02:00.1")
    static let vf2: PCIAddress = .literal("0000:02:00.2")

    /// The e1000/virtio group (4) assigned to `owner`, from a plan of the q35 graph.
    static func assignment(owner: String = "vm1", siblings: Planner.SiblingMode = .passthrough) throws -> Assignment {
        let results = Planner.assign([P.e1000], owner: owner, siblings: siblings, in: P.context(managed: [P.e1000, P.virtio]))
        return try #require(results.first?.assignment)
    }

    /// The q35 graph with group 4 as an assignment left it (both NICs on `vfio-pci`).
    static func isolatedGraph(_ change: (inout [PCIDevice]) -> Void = { _ in }) -> TopologyGraph {
        P.q35Graph { devices in
            for index in devices.indices where [P.e1000, P.virtio].contains(devices[index].address) {
                devices[index].driver = "vfio-pci"
                devices[index].driverOverride = "vfio-pci"
            }
            change(&devices)
        }
    }

    /// The q35 graph with 2 VFs on the NVMe PF, each in a group of its own (6, 7), on `driver`.
    static func sriovGraph(vfDriver: String? = "vfio-pci", pfDriver: String? = "nvme") -> TopologyGraph {
        P.q35Graph { devices in
            let index = devices.firstIndex { $0.address == P.nvme }!
            devices[index].sriov = SRIOVState(totalVFs: 4, numVFs: 2, driversAutoprobe: false)
            devices[index].virtfns = [vf1, vf2]
            devices[index].driver = pfDriver
            for (offset, vf) in [vf1, vf2].enumerated() {
                devices.append(PCIDevice(address: vf, vendorID: 0x1b36, deviceID: 0x0010, classCode: 0x010802, driver: vfDriver,
                                         driverOverride: vfDriver, iommuGroup: 6 + offset, parent: .literal("0000:00:1c.1"), physfn: P.nvme))
            }
        }
    }

    // MARK: Item 1: release names the owner that holds the device

    @Test func releasingAnotherOwnersDeviceIsRefusedBeforeAnyWrite() throws {
        let context = P.context(graph: Self.isolatedGraph(), managed: [P.e1000, P.virtio], assignments: [try Self.assignment(owner: "vm1")])
        let results = Planner.release(owner: "vm2", addresses: [P.e1000], in: context)
        #expect(results.count == 1)
        let plan = try #require(results.first?.plan)
        #expect(plan.steps.isEmpty)
        #expect(plan.refusals.map(\.description) == ["0000:03:01.0: is assigned to vm1, not vm2: only its owner's release returns it"])
    }

    @Test func releasingOnesOwnDeviceByAddressAndOwnerStillWorks() throws {
        let context = P.context(graph: Self.isolatedGraph(), managed: [P.e1000, P.virtio], assignments: [try Self.assignment(owner: "vm1")])
        let plan = try #require(Planner.release(owner: "vm1", addresses: [P.e1000], in: context).first?.plan)
        #expect(!plan.isRefused)
        #expect(plan.steps.contains(PlanStep(P.e1000, .unbind(from: "vfio-pci"))))
    }

    // MARK: Item 4: enforcement matches the assigned device, not only its address

    @Test func anotherDeviceAtAnAssignedAddressIsLeftAlone() throws {
        // After a hot swap a different card (an igb, 8086:10c9) sits at 03:01.0 on its host driver.
        let graph = Self.isolatedGraph { devices in
            let index = devices.firstIndex { $0.address == P.e1000 }!
            devices[index].deviceID = 0x10c9
            devices[index].driver = "igb"
            devices[index].driverOverride = nil
        }
        let context = P.context(graph: graph, managed: [P.e1000, P.virtio], assignments: [try Self.assignment()],
                                drivers: ["vfio-pci", "igb"])
        let plan = try #require(Planner.enforce(P.e1000, in: context))
        #expect(plan.isRefused)
        #expect(plan.refusals.map(\.description) == ["0000:03:01.0: is now 8086:10c9, not the 8086:100e assigned to vm1: left alone"])
    }

    @Test func anotherCardWithTheSameIdsButAnotherSerialIsLeftAlone() throws {
        // Assigned while a rule checked serials: the identity keeps the serial.
        var assignContext = P.context(managed: [P.e1000, P.virtio])
        assignContext.verdicts.verdicts[P.e1000]?.serial = "00-11-22-33-44-55-66-77"
        let assignment = try #require(Planner.assign([P.e1000], owner: "vm1", in: assignContext).first?.assignment)
        #expect(assignment.members.first { $0.identity.address == P.e1000 }?.identity.serial == "00-11-22-33-44-55-66-77")
        // The same model swapped in: same ids, another serial, on its host driver.
        let graph = Self.isolatedGraph { devices in
            let index = devices.firstIndex { $0.address == P.e1000 }!
            devices[index].driver = "e1000"
            devices[index].driverOverride = nil
        }
        var context = P.context(graph: graph, managed: [P.e1000, P.virtio], assignments: [assignment])
        context.verdicts.verdicts[P.e1000]?.serial = "00-11-22-33-44-55-66-88"
        let plan = try #require(Planner.enforce(P.e1000, in: context))
        #expect(plan.refusals.map(\.description) == [
            "0000:03:01.0: shows serial 00-11-22-33-44-55-66-88, not the 00-11-22-33-44-55-66-77 of the device assigned to vm1: left alone",
        ])
        // The assigned card itself is put back.
        context.verdicts.verdicts[P.e1000]?.serial = "00-11-22-33-44-55-66-77"
        #expect(Planner.enforce(P.e1000, in: context)?.isRefused == false)
    }

    // MARK: Item 5: enforcement never unbinds a PF with VFs enabled

    @Test func enforcementRefusesToUnbindAPFWithVFs() throws {
        // The NVMe PF's group (3) is assigned while it had no VFs; the host driver takes it back and enables two.
        var assignment = try Self.assignment()
        assignment.members = [Assignment.Member(identity: DeviceIdentity(address: P.nvme, ids: "1b36:0010"), originalDriver: "nvme",
                                                originalOverride: nil, isBridge: false)]
        let context = P.context(graph: Self.sriovGraph(), managed: [P.nvme, Self.vf1, Self.vf2], assignments: [assignment])
        let plan = try #require(Planner.enforce(P.nvme, in: context))
        #expect(plan.refusals.map(\.description) == ["0000:02:00.0: has 2 VFs enabled; unbinding its driver would remove them, guests' included: left on nvme"])
    }

    // MARK: Item 6: `--quarantine none` siblings are taken back from a host driver

    @Test func aQuarantinedSiblingTakenByAHostDriverIsPutBack() throws {
        let assignment = try Self.assignment(siblings: .none)
        let graph = Self.isolatedGraph { devices in
            let index = devices.firstIndex { $0.address == P.virtio }!
            devices[index].driver = "virtio-pci"
            devices[index].driverOverride = nil
        }
        // `none` is no driver: nothing needs loading.
        let context = P.context(graph: graph, managed: [P.e1000, P.virtio], assignments: [assignment], drivers: ["vfio-pci", "virtio-pci"])
        let plan = try #require(Planner.enforce(P.virtio, in: context))
        #expect(plan.refusals.isEmpty)
        #expect(plan.steps.map(\.description) == ["0000:03:02.0: set driver_override to none", "0000:03:02.0: unbind from virtio-pci"])
    }

    // MARK: Item 2: [[sriov]] passes the assignment's gates

    @Test func anSRIOVRuleForAPFOutsideTheAllowlistWritesNothing() {
        let rule = SRIOVRule(pf: P.nvme, numVFs: 3)
        let plan = Planner.sriov(rule, in: P.context(managed: [P.e1000], sriov: [rule]))
        #expect(plan.refusals.map(\.description) == [
            "0000:02:00.0: is outside the allowlist ([manage]) and its [[sriov]] rule does not say manage_pf = true, so it may not be written",
        ])
        var admitted = rule
        admitted.managesPF = true
        #expect(!Planner.sriov(admitted, in: P.context(managed: [P.e1000], sriov: [admitted])).isRefused)
    }

    @Test func aMonitorOnlyPolicyWithOnlyAnSRIOVRuleWritesNothing() {
        let rule = SRIOVRule(pf: P.nvme, numVFs: 3, managesPF: true)
        let plan = Planner.sriov(rule, in: P.context(managed: [], sriov: [rule]))
        #expect(plan.refusals.map(\.description) == ["the policy has no [manage] allowlist: vfio-warden only watches (monitor-only)"])
    }

    @Test func anSRIOVRuleWhoseBusWasRenumberedPointsAtAnotherCardAndWritesNothing() {
        let rule = SRIOVRule(pf: P.nvme, numVFs: 3, pfIDs: "8086:1521", managesPF: true)
        let plan = Planner.sriov(rule, in: P.context(managed: [P.nvme], sriov: [rule]))
        #expect(plan.refusals.map(\.description) == ["0000:02:00.0: is 1b36:0010, not the 8086:1521 its [[sriov]] rule names: left alone"])
        var serialRule = SRIOVRule(pf: P.nvme, numVFs: 3, pfSerial: "00-11-22-33-44-55-66-77", managesPF: true)
        #expect(Planner.sriov(serialRule, in: P.context(managed: [P.nvme], sriov: [serialRule])).refusals.map(\.description)
                == ["0000:02:00.0: shows serial none, not the 00-11-22-33-44-55-66-77 its [[sriov]] rule names: left alone"])
        serialRule.pfSerial = nil
        #expect(!Planner.sriov(serialRule, in: P.context(managed: [P.nvme], sriov: [serialRule])).isRefused)
    }

    @Test func anSRIOVRuleWithAVFInHostUseWritesNothing() {
        // A VF on its host driver backs a mounted /srv: changing numvfs would destroy it.
        let rule = SRIOVRule(pf: P.nvme, numVFs: 3, managesPF: true)
        let context = P.context(graph: Self.sriovGraph(vfDriver: "nvme"), managed: [P.nvme],
                                hostUse: [Self.vf1: ["backs /srv (mounted filesystem on nvme1n1, 259:1)"]], sriov: [rule])
        let plan = Planner.sriov(rule, in: context)
        #expect(plan.refusals.map(\.description) == ["0000:02:00.1: (a VF of 0000:02:00.0) is in use by the host: backs /srv (mounted filesystem on nvme1n1, 259:1)"])
    }

    @Test func anSRIOVRuleForAnAssignedPFWritesNothing() throws {
        var assignment = try Self.assignment()
        assignment.members = [Assignment.Member(identity: DeviceIdentity(address: P.nvme, ids: "1b36:0010"), originalDriver: "nvme",
                                                originalOverride: nil, isBridge: false)]
        let graph = P.q35Graph { devices in
            let index = devices.firstIndex { $0.address == P.nvme }!
            devices[index].driver = "vfio-pci"
        }
        let rule = SRIOVRule(pf: P.nvme, numVFs: 3, managesPF: true)
        let plan = Planner.sriov(rule, in: P.context(graph: graph, managed: [P.nvme], assignments: [assignment], sriov: [rule]))
        #expect(plan.refusals.contains(.init(P.nvme, "its group 3 is assigned to vm1: its SR-IOV state is the guest's")))
    }

    @Test func vfsOfARuleThatFailsItsGatesGetNoExemptionFromTheAllowlist() throws {
        // The PF is outside [manage] and the rule does not say manage_pf: its VFs (outside [manage] too) are not held.
        let rule = SRIOVRule(pf: P.nvme, numVFs: 2)
        let context = P.context(graph: Self.sriovGraph(vfDriver: "nvme"), managed: [P.e1000], sriov: [rule])
        #expect(Planner.enforce(Self.vf1, in: context) == nil)
        var admitted = rule
        admitted.managesPF = true
        let held = P.context(graph: Self.sriovGraph(vfDriver: "nvme"), managed: [P.e1000], sriov: [admitted])
        let plan = try #require(Planner.enforce(Self.vf1, in: held))
        #expect(!plan.isRefused)
    }

    // MARK: Item 18: VFs on the driver the policy chose are where they belong

    @Test func vfsOnTheDriverTheRuleChoseAreNotViolated() {
        let rule = SRIOVRule(pf: P.nvme, numVFs: 2, vfDriver: "nvme", managesPF: true)
        let context = P.context(graph: Self.sriovGraph(vfDriver: "nvme"), managed: [P.nvme], sriov: [rule])
        let status = GroupStatus.of(group: 6, in: context)
        #expect(status.state == .host)
        #expect(status.owner == "[[sriov]] 0000:02:00.0")
        #expect(Planner.enforce(Self.vf1, in: context) == nil)
        // On another host driver, it is violated.
        let other = P.context(graph: Self.sriovGraph(vfDriver: "e1000"), managed: [P.nvme], sriov: [rule])
        #expect(GroupStatus.of(group: 6, in: other).state == .violated)
    }

    // MARK: Item 7: a member whose group link cannot be read blocks its group

    @Test func aMemberWithAnUnreadableGroupLinkBlocksTheAssignment() throws {
        let graph = P.q35Graph { devices in
            let index = devices.firstIndex { $0.address == P.virtio }!
            devices[index].problems = [DeviceProblem(attribute: "iommu_group", message: "cannot read link: EIO")]
        }
        let (plan, assignment) = try #require(Planner.assign([P.e1000], owner: "vm1", in: P.context(graph: graph, managed: [P.e1000, P.virtio])).first)
        #expect(assignment == nil)
        #expect(plan.refusals.map(\.description) == [
            "0000:03:02.0: its iommu_group link cannot be read (cannot read link: EIO); the group's membership is unsure, so it is not assigned",
        ])
        #expect(GroupStatus.of(group: 4, in: P.context(graph: graph, managed: [P.e1000, P.virtio])).state == .blocked)
    }

    // MARK: Item 21: release of a device the policy now protects

    @Test func releasingADeviceThePolicyNowProtectsGivesItBackAndSaysSo() throws {
        let context = P.context(graph: Self.isolatedGraph(), managed: [P.e1000], protected: [P.virtio: "protect.devices[0]"],
                                assignments: [try Self.assignment()])
        let plan = try #require(Planner.release(owner: "vm1", addresses: [], in: context).first?.plan)
        #expect(!plan.isRefused)
        #expect(plan.steps.contains(PlanStep(P.virtio, .bind(to: "virtio-pci"))))
        #expect(plan.notices.map(\.description) == [
            "0000:03:02.0: is protected by the policy (protect.devices[0]): given back to virtio-pci, the driver it had before the assignment",
        ])
    }
}
