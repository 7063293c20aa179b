import Sysfs

/// A timeline for `vfio-warden simulate`: kernel-side happenings and user commands, played in order against
/// the real engine on the simulated kernel.
public struct Scenario: Sendable, Hashable {
    public var name: String
    public var description: String
    public var steps: [Step]

    public init(name: String, description: String, steps: [Step]) {
        self.name = name
        self.description = description
        self.steps = steps
    }

    public enum Step: Sendable, Hashable {
        /// Something the kernel (or someone at a shell) does; the agent only sees its uevents.
        case kernel(KernelHappening)
        /// A user command, as `vfio-warden assign` would send it.
        case assign(devices: [PCIAddress], owner: String)
        case release(owner: String?, devices: [PCIAddress])
        /// Print every group's state.
        case status
        /// Print the journal's story, optionally for one device.
        case journal(device: PCIAddress?)
        /// Narration, printed as it is.
        case say(String)
    }

    public enum KernelHappening: Sendable, Hashable {
        /// `echo ADDR > bus/pci/drivers/DRIVER/bind` after clearing `driver_override` and unbinding: what a
        /// careless script or a person does to take a device back.
        case rebind(PCIAddress, driver: String)
        /// A module load: the driver registers and claims every unbound device it matches.
        case loadModule(String)
        /// `echo N > sriov_numvfs` on a PF, by someone other than the agent.
        case createVFs(pf: PCIAddress, count: Int)
        /// `echo 1 > remove`: the device and what is below it go away.
        case remove(PCIAddress)
        /// `echo 1 > bus/pci/rescan`.
        case rescan
        /// The netlink buffer overflows: events are lost.
        case overflow
        /// `ip link set NAME down`: the interface no longer carries host traffic.
        case linkDown(String)
    }
}
