import Sysfs
import Topology

/// libvirt's node-device XML (`virsh nodedev-dumpxml`): the `<iommuGroup>` element that lists a group's members
/// as `<address domain='0x0000' bus='0x03' slot='0x01' function='0x0'/>`, and the `<device>` of `show`.
public enum LibvirtXML {
    /// `<iommuGroup number='N'>` with one `<address/>` per member, indented by `indent` spaces.
    public static func iommuGroup(_ group: GroupReport, indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent)
        var xml = "\(pad)<iommuGroup number='\(group.number)'>\n"
        for device in group.devices {
            xml += "\(pad)  \(address(device.device.address))\n"
        }
        xml += "\(pad)</iommuGroup>\n"
        return xml
    }

    /// `<address domain='0x0000' bus='0x03' slot='0x01' function='0x0'/>` as libvirt writes it.
    public static func address(_ address: PCIAddress) -> String {
        "<address domain='0x\(hex(address.domain, width: 4))' bus='0x\(hex(address.bus, width: 2))' "
            + "slot='0x\(hex(address.slot, width: 2))' function='0x\(String(address.function, radix: 16))'/>"
    }

    /// `list --xml`: every group in an `<iommuGroups>` element.
    public static func render(_ report: TopologyReport) -> String {
        var xml = "<iommuGroups>\n"
        for group in report.groups { xml += iommuGroup(group, indent: 2) }
        xml += "</iommuGroups>\n"
        return xml
    }

    /// `show --xml`: the device as libvirt's `<device>` with its PCI capability and `<iommuGroup>`.
    public static func render(_ report: DeviceDetailReport) -> String {
        let device = report.device.device
        let address = device.address
        var xml = "<device>\n"
        xml += "  <name>pci_\(hex(address.domain, width: 4))_\(hex(address.bus, width: 2))_\(hex(address.slot, width: 2))_\(address.function)</name>\n"
        if let parent = device.parent {
            xml += "  <parent>pci_\(hex(parent.domain, width: 4))_\(hex(parent.bus, width: 2))_\(hex(parent.slot, width: 2))_\(parent.function)</parent>\n"
        }
        if let driver = device.driver {
            xml += "  <driver>\n    <name>\(escape(driver))</name>\n  </driver>\n"
        }
        xml += "  <capability type='pci'>\n"
        if let classCode = device.classCode { xml += "    <class>0x\(hex(classCode, width: 6))</class>\n" }
        xml += "    <domain>\(address.domain)</domain>\n    <bus>\(address.bus)</bus>\n"
        xml += "    <slot>\(address.slot)</slot>\n    <function>\(address.function)</function>\n"
        if let deviceID = device.deviceID { xml += "    <product id='0x\(hex(deviceID, width: 4))'/>\n" }
        if let vendorID = device.vendorID { xml += "    <vendor id='0x\(hex(vendorID, width: 4))'/>\n" }
        if let physfn = device.physfn {
            xml += "    <capability type='phys_function'>\n      \(LibvirtXML.address(physfn))\n    </capability>\n"
        }
        if let sriov = device.sriov {
            xml += "    <capability type='virt_functions' maxCount='\(sriov.totalVFs)'>\n"
            for vf in device.virtfns { xml += "      \(LibvirtXML.address(vf))\n" }
            xml += "    </capability>\n"
        }
        if let group = report.group { xml += iommuGroup(group, indent: 4) }
        xml += "  </capability>\n</device>\n"
        return xml
    }

    /// Escapes the five XML special characters.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "'": escaped += "&apos;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
