import Sysfs

/// What `vfio-warden simulate` plays with no arguments: the three jobs on the built-in q35 host.
public enum BuiltInScenario {
    /// The policy of the built-in run: the bridge group's NICs and the SATA controller are allowlisted (the last
    /// one carelessly: host-use analysis still refuses it), the NVMe's VFs are managed and two are created.
    public static let policy = """
        # Built-in policy of `vfio-warden simulate` (the q35 example host).
        [manage]
        devices = [
            "0000:03:01.0",                                  # e1000, behind the PCIe-to-PCI bridge
            { address = "0000:03:02.0", ids = "1af4:1000" }, # virtio-net, in the same group
            "0000:00:1f.2",                                  # AHCI SATA: allowlisted by mistake, it carries the host's disk
        ]
        vfs_of = ["0000:02:00.0"]                            # every VF of the SR-IOV NVMe

        [protect]
        devices = ["0000:00:01.0"]                           # the boot VGA

        [[sriov]]
        pf = "0000:02:00.0"
        numvfs = 2
        vf_driver = "vfio-pci"
        manage_pf = true                                     # the PF itself is not in [manage]: this rule may write it
        """

    public static let scenario = Scenario(
        name: "built-in: the three jobs on a q35 host",
        description: "Host: QEMU q35 (see `vfio-warden example-tree`). Policy: the bridge group's two NICs and (by mistake) the SATA controller allowlisted; the NVMe's VFs managed, [[sriov]] numvfs = 2. Engine: the real one, on a simulated kernel.",
        steps: [
            .say("Job 1, SR-IOV: the [[sriov]] rule created 2 VFs on 0000:02:00.0 with sriov_drivers_autoprobe=0; no host driver touched them"),
            .status,
            .say("Whole-group isolation: give the e1000 0000:03:01.0 to vm1. Its group also holds the virtio-net that carries the host's enp3s2"),
            .assign(devices: [.literal("0000:03:01.0")], owner: "vm1"),
            .kernel(.linkDown("enp3s2")),
            .assign(devices: [.literal("0000:03:01.0")], owner: "vm1"),
            .say("The 2013 danger: the SATA controller shares a group with the LPC bridge and SMBus, and carries /"),
            .assign(devices: [.literal("0000:00:1f.2")], owner: "vm2"),
            .say("Job 2, background enforcement: someone gives the e1000 back to the host by hand"),
            .kernel(.rebind(.literal("0000:03:01.0"), driver: "e1000")),
            .say("SR-IOV again: someone recreates the NVMe's VFs, 4 this time"),
            .kernel(.createVFs(pf: .literal("0000:02:00.0"), count: 0)),
            .kernel(.createVFs(pf: .literal("0000:02:00.0"), count: 4)),
            .say("Events lost: the agent rescans and still finds nothing on a host driver"),
            .kernel(.overflow),
            .say("vm1 shuts down: its group goes back to the drivers it had"),
            .release(owner: "vm1", devices: []),
            .status,
            .say("Job 3, review: what happened to 0000:03:01.0, from the journal"),
            .journal(device: .literal("0000:03:01.0")),
        ])
}
