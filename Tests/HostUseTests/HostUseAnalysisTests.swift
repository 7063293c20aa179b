import Sysfs
import Testing
import Topology

@Suite("Host-use analysis on generated trees and a fake /proc")
struct HostUseAnalysisTests {
    @Test("A filesystem mounted from a partition of sda puts the AHCI controller in host use")
    func mountedPartition() throws {
        try HostFixture.withQ35 { host in
            // q35's 00:1f.2 carries sda; the interface on 03:02.0 is down in this test.
            try host.tree.writeFile("class/net/enp3s2/operstate", "down\n")
            try host.tree.writeFile("class/net/enp3s2/flags", "0x1002\n")
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.writeProc("self/mountinfo", """
                21 1 0:20 / /proc rw,nosuid - proc proc rw
                25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
                """)
            let (analysis, graph) = try host.analyse()
            let verdict = analysis.verdict(for: .ahci)
            #expect(!verdict.safe)
            #expect(verdict.reasons.map(\.message) == ["backs / (mounted ext4 filesystem on sda1, 8:1)"])
            #expect(verdict.reasons.first?.kind == .mountedFilesystem)
            #expect(verdict.reasons.first?.sources.contains("proc/self/mountinfo") == true)
            // Its group mates are not themselves in use; nothing else on the host is.
            #expect(analysis.verdict(for: .literal("0000:00:1f.0")).safe)
            let unsafe = analysis.verdicts(in: graph).filter { !$0.safe }.map(\.address)
            #expect(unsafe == [.vga, .ahci])
        }
    }

    @Test("A mount point with a space is decoded; a mount matched by source name without major:minor")
    func mountBySource() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda3", of: "sda", dev: "8:3")
            try host.writeProc("self/mountinfo", "30 1 0:45 / /srv/my\\040data rw - btrfs /dev/sda3 rw\n")
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: .ahci).reasons.map(\.message) == ["backs /srv/my data (mounted btrfs filesystem on sda3, 8:3)"])
        }
    }

    @Test("Swap on a partition")
    func swap() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda2", of: "sda", dev: "8:2")
            try host.writeProc("swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 8388604 0 -2\n")
            let (analysis, _) = try host.analyse()
            let reasons = analysis.verdict(for: .ahci).reasons
            #expect(reasons.map(\.kind) == [.swap])
            #expect(reasons.first?.message == "backs swap /dev/sda2 (on sda2)")
        }
    }

    @Test("An LVM volume on a partition, mounted and used as swap: the dm chain is followed")
    func lvmChain() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda2", of: "sda", dev: "8:2")
            try host.addHolder("dm-0", dev: "253:0", holding: "sda/sda2", dmName: "vg-root", dmUUID: "LVM-abc")
            try host.addHolder("dm-1", dev: "253:1", holding: "sda/sda2", dmName: "vg-swap", dmUUID: "LVM-def")
            try host.writeProc("self/mountinfo", "25 1 253:0 / / rw - xfs /dev/mapper/vg-root rw\n")
            try host.writeProc("swaps", "Filename Type Size Used Priority\n/dev/mapper/vg-swap partition 100 0 -2\n")
            let (analysis, _) = try host.analyse()
            let messages = analysis.verdict(for: .ahci).reasons.map(\.message)
            #expect(messages == [
                "sda2 is held by dm-0 (vg-root), an LVM logical volume (device-mapper)",
                "backs / (mounted xfs filesystem on dm-0 (vg-root), 253:0, on sda2)",
                "sda2 is held by dm-1 (vg-swap), an LVM logical volume (device-mapper)",
                "backs swap /dev/mapper/vg-swap (on dm-1 (vg-swap), on sda2)",
            ])
        }
    }

    @Test("RAID under a crypt volume: md0 on the whole disk, dm-2 on md0, mounted")
    func mdThenDm() throws {
        try HostFixture.withQ35 { host in
            try host.addHolder("md0", dev: "9:0", holding: "sda", mdLevel: "raid1")
            try host.addHolder("dm-2", dev: "253:2", holding: "md0", dmName: "secret", dmUUID: "CRYPT-LUKS2-x")
            try host.writeProc("self/mountinfo", "40 1 253:2 / /home rw - ext4 /dev/mapper/secret rw\n")
            let (analysis, _) = try host.analyse()
            let reasons = analysis.verdict(for: .ahci).reasons
            #expect(reasons.map(\.kind) == [.blockHolder, .blockHolder, .mountedFilesystem])
            #expect(reasons.map(\.message).contains("sda is held by md0, a RAID device (md, raid1)"))
            #expect(reasons.map(\.message).contains("md0 is held by dm-2 (secret), an encrypted volume (dm-crypt)"))
            #expect(reasons.map(\.message).contains("backs /home (mounted ext4 filesystem on dm-2 (secret), 253:2, on sda on md0)"))
        }
    }

    @Test("A holder alone (an inactive-but-assembled RAID member) is host use")
    func holderAlone() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.addHolder("md127", dev: "9:127", holding: "sda/sda1")
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: .ahci).reasons.map(\.message) == ["sda1 is held by md127, a RAID device (md)"])
        }
    }

    @Test("An unreadable mountinfo makes a disk's controller count as in use")
    func unreadableMountinfo() throws {
        try HostFixture.withQ35 { host in
            try host.removeProc("self/mountinfo")
            let (analysis, _) = try host.analyse()
            let reasons = analysis.verdict(for: .ahci).reasons
            #expect(reasons.map(\.kind) == [.blockUnknown])
            #expect(reasons.first?.message.contains("proc/self/mountinfo cannot be read") == true)
            #expect(analysis.problems.contains { $0.hasPrefix("proc/self/mountinfo:") })
        }
    }

    @Test("An interface that is up with an address and a route; the bridge above it is in use too")
    func interfaceUp() throws {
        try HostFixture.withQ35 { host in
            // 192.0.2.0/24 on enp3s2, default via 192.0.2.1; local address 192.0.2.10.
            try host.writeProc("net/route", """
                Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
                enp3s2\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
                enp3s2\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0

                """)
            try host.writeProc("net/fib_trie", """
                Main:
                  +-- 0.0.0.0/0 3 0 5
                     |-- 0.0.0.0
                        /0 universe UNICAST
                     +-- 192.0.2.0/24 2 0 2
                        |-- 192.0.2.0
                           /24 link UNICAST
                        |-- 192.0.2.10
                           /32 host LOCAL
                Local:
                  +-- 127.0.0.0/8 2 0 2
                     |-- 127.0.0.1
                        /32 host LOCAL

                """)
            let (analysis, _) = try host.analyse()
            let reasons = analysis.verdict(for: .virtioNet).reasons
            #expect(reasons.map(\.message) == [
                "carries enp3s2, which is up, has address 192.0.2.10 and carries routes default via 192.0.2.1, 192.0.2.0/24",
            ])
            #expect(reasons.first?.sources.contains("proc/net/route") == true)
            #expect(analysis.verdict(for: .pciBridge).reasons.map(\.kind) == [.upstream])
            #expect(analysis.verdict(for: .pciBridge).reasons.first?.message.hasPrefix("is upstream of 0000:03:02.0, which is in host use") == true)
            // The e1000 beside it shares the bridge but is not itself in use.
            #expect(analysis.verdict(for: .e1000).safe)
        }
    }

    @Test("An interface that is down but holds an IPv6 address or route is still in use")
    func downButAddressed() throws {
        try HostFixture.withQ35 { host in
            try host.writeProc("net/if_inet6", "20010db8000000000000000000000010 03 40 00 80   enp1s0\n")
            try host.writeProc("net/ipv6_route", """
                20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   enp1s0
                fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   enp1s0

                """)
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: .e1000e).reasons.map(\.message) == [
                "carries enp1s0, which has address 2001:db8::10/64 and carries route 2001:db8::/64",
            ])
            #expect(analysis.verdict(for: .rootPort).reasons.map(\.kind) == [.upstream])
        }
    }

    @Test("A NIC that is down with no address and no route is safe, and so is its root port")
    func downNICIsSafe() throws {
        try HostFixture.withQ35 { host in
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: .e1000e).safe)
            #expect(analysis.verdict(for: .e1000e).reasons.isEmpty)
            #expect(analysis.verdict(for: .rootPort).safe)
        }
    }

    @Test("A bond slave is in use even when down and unaddressed")
    func bondSlave() throws {
        try HostFixture.withQ35 { host in
            try host.tree.makeDirectory("devices/virtual/net/bond0/bonding")
            try host.tree.writeFile("devices/virtual/net/bond0/operstate", "up\n")
            try host.tree.symlink("class/net/bond0", to: "devices/virtual/net/bond0")
            let slave = try host.realDirectory("class/net/enp1s0")
            try host.tree.symlink("\(slave)/master", to: "devices/virtual/net/bond0")
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: .e1000e).reasons.map(\.message) == ["carries enp1s0, which is enslaved in bond bond0"])
        }
    }

    @Test("The boot VGA device, its framebuffer console and DRM card")
    func bootVGAAndConsole() throws {
        try HostFixture.withQ35 { host in
            let vga = try host.realDirectory("bus/pci/devices/0000:00:01.0")
            try host.tree.makeDirectory("\(vga)/graphics/fb0")
            try host.tree.symlink("\(vga)/graphics/fb0/device", to: vga)
            try host.tree.makeDirectory("class/graphics")
            try host.tree.symlink("class/graphics/fb0", to: "\(vga)/graphics/fb0")
            try host.tree.makeDirectory("\(vga)/drm/card0")
            try host.tree.symlink("\(vga)/drm/card0/device", to: vga)
            try host.tree.makeDirectory("class/drm")
            try host.tree.symlink("class/drm/card0", to: "\(vga)/drm/card0")
            try host.tree.symlink("class/drm/card0-Virtual-1", to: "\(vga)/drm/card0")
            try host.tree.makeDirectory("class/vtconsole/vtcon1")
            try host.tree.writeFile("class/vtconsole/vtcon1/name", "(M) frame buffer device\n")
            try host.tree.writeFile("class/vtconsole/vtcon1/bind", "1\n")
            let (analysis, _) = try host.analyse()
            let reasons = analysis.verdict(for: .vga).reasons
            #expect(reasons.map(\.kind) == [.bootVGA, .framebuffer, .drm])
            #expect(reasons[0].message == "is the boot VGA device (boot_vga = 1)")
            #expect(reasons[1].message == "drives framebuffer fb0, the active console (vtcon1: (M) frame buffer device)")
        }
    }

    @Test("A VF in host use keeps its PF in use")
    func vfKeepsPF() throws {
        try HostFixture.withQ35 { host in
            let pf = PCIAddress.literal("0000:02:00.0")
            let vf = PCIAddress.literal("0000:02:00.1")
            try host.tree.createDevice(.init(vf, vendor: 0x1b36, device: 0x0010, classCode: 0x010802, group: 9, parent: .literal("0000:00:1c.1")))
            try host.tree.linkVF(vf, index: 0, to: pf)
            try host.tree.addNetworkInterface("ens9", on: vf, operstate: "up")
            let (analysis, _) = try host.analyse()
            #expect(analysis.verdict(for: pf).reasons.map(\.kind) == [.physicalFunction])
            #expect(analysis.verdict(for: .literal("0000:00:1c.1")).reasons.map(\.kind).allSatisfy { $0 == .upstream })
        }
    }
}
