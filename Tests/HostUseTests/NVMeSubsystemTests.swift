import SimulatedKernel
import Sysfs
import Testing
import Topology

@Suite("NVMe namespaces behind a subsystem node (native multipath)")
struct NVMeSubsystemTests {
    static let nvme = PCIAddress.literal("0000:02:00.0")

    /// Controllers nvme0 on 02:00.0 and nvme1 on a second function `second` (behind the same root port), one subsystem.
    static func addTwoControllers(_ host: HostFixture, second: PCIAddress) throws {
        try host.tree.createDevice(.init(second, vendor: 0x1b36, device: 0x0010, classCode: 0x010802, group: 9, parent: .literal("0000:00:1c.1")))
        try host.tree.addNVMeController("nvme0", subsystem: "nvme-subsys0", on: nvme)
        try host.tree.addNVMeController("nvme1", subsystem: "nvme-subsys0", on: second)
    }

    @Test("block/nvme0n1 resolves under devices/virtual/nvme-subsystem, with no PCI address: its controller is found",
          arguments: SysfsTree.NVMePathEvidence.allCases)
    func mountedNamespace(evidence: SysfsTree.NVMePathEvidence) throws {
        try HostFixture.withQ35 { host in
            try host.tree.addNVMeController("nvme0", subsystem: "nvme-subsys0", on: Self.nvme,
                                            linkFromSubsystem: evidence == .subsystemLinks)
            try host.tree.addNVMeSubsystemNamespace("nvme0n1", subsystem: "nvme-subsys0", dev: "259:0", paths: ["nvme0"], evidence: evidence)
            try host.writeProc("self/mountinfo", "30 1 259:0 / /var rw,relatime - ext4 /dev/nvme0n1 rw\n")
            let analysis = try host.analysis()
            let reasons = analysis.verdict(for: Self.nvme).reasons
            #expect(reasons.map(\.kind) == [.mountedFilesystem])
            #expect(reasons.first?.message.hasPrefix("backs /var (mounted ext4 filesystem on nvme0n1, 259:0) [nvme0n1 is a namespace of NVMe subsystem nvme-subsys0") == true)
            #expect(analysis.verdict(for: .literal("0000:00:1c.1")).reasons.map(\.kind) == [.upstream])
        }
    }

    @Test("A namespace reached through two controllers on two functions keeps both")
    func twoControllers() throws {
        try HostFixture.withQ35 { host in
            let second = PCIAddress.literal("0000:02:00.1")
            try Self.addTwoControllers(host, second: second)
            try host.tree.addNVMeSubsystemNamespace("nvme0n1", subsystem: "nvme-subsys0", dev: "259:0", paths: ["nvme0", "nvme1"],
                                                    evidence: .hiddenPathDevices)
            try host.writeProc("swaps", "Filename Type Size Used Priority\n/dev/nvme0n1 partition 100 0 -2\n")
            let analysis = try host.analysis()
            #expect(analysis.verdict(for: Self.nvme).reasons.map(\.kind) == [.swap])
            #expect(analysis.verdict(for: second).reasons.map(\.message)
                == ["backs swap /dev/nvme0n1 (on nvme0n1) [nvme0n1 is a namespace of NVMe subsystem nvme-subsys0; path nvme0c1n1 on controller nvme1]"])
        }
    }

    @Test("Controllers with no path to the namespace are left alone when the paths are known (an SR-IOV VF's controller)")
    func onlyPathControllers() throws {
        try HostFixture.withQ35 { host in
            let vf = PCIAddress.literal("0000:02:00.1")
            try Self.addTwoControllers(host, second: vf)
            try host.tree.addNVMeSubsystemNamespace("nvme0n1", subsystem: "nvme-subsys0", dev: "259:0", paths: ["nvme0"], evidence: .hiddenPathDevices)
            try host.writeProc("self/mountinfo", "30 1 259:0 / /var rw - ext4 /dev/nvme0n1 rw\n")
            let analysis = try host.analysis()
            #expect(!analysis.verdict(for: Self.nvme).safe)
            #expect(analysis.verdict(for: vf).safe)
        }
    }
}
