import Sysfs
import Topology

/// How an assignment remembers a device across reboots: its address and vendor:device, never its IOMMU group
/// number (group numbers are handed out anew at every boot).
public struct DeviceIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: PCIAddress
    /// `vendor:device` as read at assignment time (`8086:100e`), `nil` when it could not be read.
    public var ids: String?

    public init(address: PCIAddress, ids: String?) {
        self.address = address
        self.ids = ids
    }

    public init(_ device: PCIDevice) {
        self.init(address: device.address, ids: device.ids)
    }

    /// Whether `device` is still the device this identity was taken from (same address, same ids).
    public func matches(_ device: PCIDevice) -> Bool {
        device.address == address && (ids == nil || device.ids == ids)
    }

    public var description: String { ids.map { "\(address) [\($0)]" } ?? address.description }
}
