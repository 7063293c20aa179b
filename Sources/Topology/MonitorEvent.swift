/// What an event source (the udev monitor, or the simulated kernel) hands to the engine.
public enum MonitorEvent: Sendable, Hashable {
    /// A decoded PCI uevent.
    case device(DeviceEvent)
    /// Events were lost (the netlink receive buffer overflowed, `ENOBUFS`): the graph must be rebuilt by a full
    /// rescan, not patched.
    case overflow
}
