import Sysfs

/// A kernel uevent for a PCI device, decoded: what the udev monitor and the simulated kernel both produce.
public struct DeviceEvent: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case add, remove, bind, unbind, change, move, online, offline
    }

    public var action: Action
    public var address: PCIAddress
    /// `DRIVER=`: present on `bind` (and on `add`/`change` while a driver is bound), absent on `unbind`.
    public var driver: String?
    /// `SEQNUM=`: the kernel's event counter, `nil` for synthetic events.
    public var seqnum: UInt64?
    /// `DEVPATH=`, relative to the sysfs root (`/devices/pci0000:00/0000:00:1c.0/0000:03:00.0`).
    public var devpath: String?

    public init(action: Action, address: PCIAddress, driver: String? = nil, seqnum: UInt64? = nil, devpath: String? = nil) {
        self.action = action
        self.address = address
        self.driver = driver
        self.seqnum = seqnum
        self.devpath = devpath
    }
}
