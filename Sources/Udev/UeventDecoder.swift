import Sysfs
import Topology

/// Turns the properties of one PCI uevent (`ACTION=`, `DEVPATH=`, `SUBSYSTEM=`, `PCI_SLOT_NAME=`, `DRIVER=`,
/// `SEQNUM=`, as `udevadm monitor --property` shows them) into a ``DeviceEvent``.
///
/// Pure: no IO. The udev monitor feeds it what `udev_device_get_properties_list_entry(3)` lists; tests feed it
/// dictionaries.
public enum UeventDecoder {
    /// Decodes one event.
    ///
    /// - `ACTION` must be one of the kernel's kobject actions (``DeviceEvent/Action``).
    /// - `SUBSYSTEM`, when present, must be `pci`.
    /// - The address comes from `PCI_SLOT_NAME`; when that is missing or not an address, from the last
    ///   component of `DEVPATH` if that is one (the kernel names PCI device directories by address).
    /// - `DRIVER` empty or absent means no driver (an `unbind` carries none).
    /// - `SEQNUM`, when present, must be a decimal number.
    public static func decode(_ properties: [String: String]) throws(UeventDecodeError) -> DeviceEvent {
        guard let actionText = properties["ACTION"], !actionText.isEmpty else {
            throw UeventDecodeError(.missingAction, properties: properties)
        }
        guard let action = DeviceEvent.Action(rawValue: actionText) else {
            throw UeventDecodeError(.unknownAction(actionText), properties: properties)
        }
        if let subsystem = properties["SUBSYSTEM"], subsystem != "pci" {
            throw UeventDecodeError(.notPCI(subsystem: subsystem), properties: properties)
        }
        let devpath = properties["DEVPATH"].flatMap { $0.isEmpty ? nil : $0 }
        let address = try address(slotName: properties["PCI_SLOT_NAME"], devpath: devpath, properties: properties)
        var seqnum: UInt64?
        if let text = properties["SEQNUM"] {
            guard let number = UInt64(text) else {
                throw UeventDecodeError(.badSeqnum(text), properties: properties)
            }
            seqnum = number
        }
        let driver = properties["DRIVER"].flatMap { $0.isEmpty ? nil : $0 }
        return DeviceEvent(action: action, address: address, driver: driver, seqnum: seqnum, devpath: devpath)
    }

    /// `PCI_SLOT_NAME` parsed, or else the last `DEVPATH` component when it is an address.
    static func address(slotName: String?, devpath: String?, properties: [String: String]) throws(UeventDecodeError) -> PCIAddress {
        if let slotName, let address = PCIAddress(slotName) { return address }
        if let devpath, let last = devpath.split(separator: "/").last, let address = PCIAddress(last) {
            return address
        }
        throw UeventDecodeError(.noAddress(slotName: slotName, devpath: devpath), properties: properties)
    }
}

/// Why a uevent could not be decoded into a ``DeviceEvent``, with the properties it had.
public struct UeventDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        /// No `ACTION=` (or an empty one).
        case missingAction
        /// `ACTION=` names no kobject action this agent knows.
        case unknownAction(String)
        /// `SUBSYSTEM=` is not `pci`.
        case notPCI(subsystem: String)
        /// Neither `PCI_SLOT_NAME=` nor the last `DEVPATH=` component is a PCI address.
        case noAddress(slotName: String?, devpath: String?)
        /// `SEQNUM=` is not a decimal number.
        case badSeqnum(String)
    }

    public var problem: Problem
    /// The event's properties as received.
    public var properties: [String: String]

    public init(_ problem: Problem, properties: [String: String]) {
        self.problem = problem
        self.properties = properties
    }

    public var description: String {
        let what: String
        switch problem {
        case .missingAction:
            what = "no ACTION"
        case .unknownAction(let action):
            let known = DeviceEvent.Action.allCases.map(\.rawValue).joined(separator: ", ")
            what = "unknown ACTION '\(action)' (expected one of \(known))"
        case .notPCI(let subsystem):
            what = "SUBSYSTEM is '\(subsystem)', not 'pci'"
        case .noAddress(let slotName, let devpath):
            let slot = slotName.map { "PCI_SLOT_NAME '\($0)' is not a PCI address" } ?? "no PCI_SLOT_NAME"
            let path = devpath.map { "DEVPATH '\($0)' does not end in one" } ?? "no DEVPATH"
            what = "\(slot) and \(path)"
        case .badSeqnum(let text):
            what = "SEQNUM '\(text)' is not a decimal number"
        }
        let seqnum = properties["SEQNUM"].map { " (SEQNUM \($0))" } ?? ""
        return "cannot decode uevent\(seqnum): \(what)"
    }
}
