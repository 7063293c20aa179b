import SimulatedKernel
import Sysfs
import Testing
@testable import Topology

@Suite("Host use in other namespaces, on the console and the only keyboard")
struct NamespaceConsoleInputTests {
    @Test("A NIC on its network driver whose interface was moved to another network namespace is in use elsewhere")
    func netdevMovedAway() throws {
        try HostFixture.withQ35 { host in
            // `ip link set enp3s1 netns pod1`: the interface leaves class/net and the device's net/ in this namespace.
            let directory = try host.realDirectory("class/net/enp3s1")
            try host.tree.removeItem("class/net/enp3s1")
            try host.tree.removeItem(directory)
            let analysis = try host.analysis()
            let reasons = analysis.verdict(for: .e1000).reasons
            #expect(reasons.map(\.kind) == [.networkElsewhere])
            #expect(reasons.first?.message.hasPrefix("is bound to network driver e1000 but has no network interface in this network namespace") == true)
            #expect(analysis.verdict(for: .pciBridge).reasons.map(\.kind) == [.upstream, .upstream])
            // The policy may say such a device is free.
            let relaxed = try host.analysis(options: HostUseOptions(netdevElsewhereInUse: false))
            #expect(relaxed.verdict(for: .e1000).safe)
        }
    }

    @Test("A NIC with its interface here, or parked on vfio-pci, is not in use elsewhere")
    func netdevHereOrParked() throws {
        try HostFixture.withQ35 { host in
            #expect(try host.analysis().verdict(for: .e1000).safe)
            try host.tree.removeItem("class/net/enp1s0")
            _ = try host.tree.unlinkDriver(.e1000e)
            try host.tree.linkDriver(.e1000e, to: "vfio-pci")
            #expect(try host.analysis().verdict(for: .e1000e).safe)
        }
    }

    @Test("A filesystem mounted only in another mount namespace (one process per namespace read)")
    func otherMountNamespace() throws {
        try HostFixture.withQ35 { host in
            try host.addPartition("sda1", of: "sda", dev: "8:1")
            try host.linkProc("self/ns/mnt", to: "mnt:[4026531841]")
            try host.linkProc("812/ns/mnt", to: "mnt:[4026532200]")
            try host.linkProc("813/ns/mnt", to: "mnt:[4026532200]")
            try host.linkProc("900/ns/mnt", to: "mnt:[4026531841]")
            try host.writeProc("812/mountinfo", "50 40 8:1 / /data rw - ext4 /dev/sda1 rw\n")
            try host.writeProc("813/mountinfo", "50 40 8:1 / /data rw - ext4 /dev/sda1 rw\n")
            try host.writeProc("900/mountinfo", "this namespace is our own and is not read twice\n")
            let reasons = try host.analysis().verdict(for: .ahci).reasons
            #expect(reasons.map(\.message) == ["backs /data in mount namespace mnt:[4026532200] (pid 812) (mounted ext4 filesystem on sda1, 8:1)"])
            #expect(reasons.first?.sources == ["proc/812/mountinfo", "block/sda/sda1/dev"] || reasons.first?.sources.first == "proc/812/mountinfo")
        }
    }

    @Test("A PCI UART that is the kernel's console (console=ttyS4) is in use; a platform ttyS0 is nobody's PCI device")
    func serialConsole() throws {
        try HostFixture.withQ35 { host in
            let uart = PCIAddress.literal("0000:00:1e.0")
            let directory = try host.tree.createDevice(.init(uart, vendor: 0x1415, device: 0xc158, classCode: 0x070002, group: 8))
            try host.tree.makeDirectory("\(directory)/tty/ttyS4")
            try host.tree.symlink("\(directory)/tty/ttyS4/device", to: directory)
            try host.tree.makeDirectory("devices/pnp0/00:05/tty/ttyS0")
            try host.tree.makeDirectory("class/tty")
            try host.tree.symlink("class/tty/ttyS4", to: "\(directory)/tty/ttyS4")
            try host.tree.symlink("class/tty/ttyS0", to: "devices/pnp0/00:05/tty/ttyS0")
            #expect(try host.analysis().verdict(for: uart).safe)
            try host.writeProc("cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 console=tty0 console=ttyS4,115200n8 console=ttyS0 quiet\n")
            let reasons = try host.analysis().verdict(for: uart).reasons
            #expect(reasons.map(\.message) == ["carries ttyS4, the kernel's console (console=ttyS4,115200n8 in /proc/cmdline)"])
            #expect(reasons.map(\.kind) == [.console])
        }
    }

    @Test("An xHCI controller carrying every keyboard is in use; with a second keyboard elsewhere, or the policy's word, it is not")
    func onlyKeyboard() throws {
        try HostFixture.withQ35 { host in
            let xhci = PCIAddress.literal("0000:00:14.0")
            let directory = try host.tree.createDevice(.init(xhci, vendor: 0x8086, device: 0x31a8, classCode: 0x0c0330, group: 7))
            let input = "\(directory)/usb1/1-1/1-1:1.0/0003:046D:C31C.0001/input/input5"
            try host.tree.makeDirectory("\(input)/capabilities")
            try host.tree.writeFile("\(input)/capabilities/key", "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n")
            try host.tree.writeFile("\(input)/name", "Logitech USB Keyboard\n")
            try host.tree.makeDirectory("class/input")
            try host.tree.symlink("class/input/input5", to: input)
            // A mouse on the same controller is no keyboard; a virtual (uinput) keyboard is no other keyboard.
            let mouse = "\(directory)/usb1/1-2/1-2:1.0/input/input6"
            try host.tree.makeDirectory("\(mouse)/capabilities")
            try host.tree.writeFile("\(mouse)/capabilities/key", "1f0000 0 0 0 0\n")
            try host.tree.symlink("class/input/input6", to: mouse)
            try host.tree.makeDirectory("devices/virtual/input/input9/capabilities")
            try host.tree.writeFile("devices/virtual/input/input9/capabilities/key", "fffffffffffffffe\n")
            try host.tree.symlink("class/input/input9", to: "devices/virtual/input/input9")
            let reasons = try host.analysis().verdict(for: xhci).reasons
            #expect(reasons.map(\.message) == [
                "carries every keyboard the host has (input5 \"Logitech USB Keyboard\"): without it the host has no local keyboard",
            ])
            #expect(reasons.map(\.kind) == [.keyboard])
            #expect(try host.analysis(options: HostUseOptions(onlyKeyboardInUse: false)).verdict(for: xhci).safe)
            // An AT keyboard on the platform's i8042: the USB one is not the only keyboard.
            try host.tree.makeDirectory("devices/platform/i8042/serio0/input/input0/capabilities")
            try host.tree.writeFile("devices/platform/i8042/serio0/input/input0/capabilities/key", "402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe\n")
            try host.tree.symlink("class/input/input0", to: "devices/platform/i8042/serio0/input/input0")
            #expect(try host.analysis().verdict(for: xhci).safe)
        }
    }

    @Test("udev's keyboard test on capabilities/key")
    func keyboardBits() {
        #expect(HostUseCollector.isKeyboard("fffffffffffffffe"))
        #expect(HostUseCollector.isKeyboard("1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe"))
        #expect(!HostUseCollector.isKeyboard("1f0000 0 0 0 0"))
        #expect(!HostUseCollector.isKeyboard("0"))
        #expect(!HostUseCollector.isKeyboard(""))
    }
}
