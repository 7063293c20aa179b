import Sysfs
import Topology

/// How an assignment remembers a device across reboots: its address and vendor:device, never its IOMMU group
/// number (group numbers are handed out anew at every boot).
public struct DeviceIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: PCIAddress
    /// `vendor:device` as read at assignment time (`8086:100e`), `nil` when it could not be read.
    public var ids: String?
    /// The PCI serial number, normalised (``DeviceVerdict/serial``), when one was read at assignment time (a policy
    /// rule checks serials); `nil` otherwise. Absent from assignments stored before it existed.
    public var serial: String?

    public init(address: PCIAddress, ids: String?, serial: String? = nil) {
        self.address = address
        self.ids = ids
        self.serial = serial
    }

    public init(_ device: PCIDevice, serial: String? = nil) {
        self.init(address: device.address, ids: device.ids, serial: serial)
    }

    /// Whether `device` is still the device this identity was taken from: same address, same ids, and the same
    /// serial when both the identity and `serial` (the device's now) know one.
    public func matches(_ device: PCIDevice, serial current: String? = nil) -> Bool {
        guard device.address == address, ids == nil || device.ids == ids else { return false }
        if let serial, let current { return serial == current }
        return true
    }

    public var description: String { ids.map { "\(address) [\($0)]" } ?? address.description }
}
