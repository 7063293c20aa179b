import Sysfs

/// udev's database entry of one device, `/run/udev/data/b<major>:<minor>` for a block device: lines `KEY:VALUE`,
/// of which `E:NAME=VALUE` are the device's properties (`E:ID_FS_TYPE=zfs_member`, `E:ID_FS_LABEL=rpool`), written by
/// systemd-udevd after `blkid` probed the device. Pure parsing; ``read(majorMinor:under:)`` reads the file.
public struct UdevDatabaseEntry: Sendable, Hashable {
    public var properties: [String: String]

    public init(properties: [String: String]) {
        self.properties = properties
    }

    /// Parses the text of a database file; lines that are not `E:NAME=VALUE` are ignored.
    public init(text: String) {
        var properties: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("E:") {
            let body = line.dropFirst(2)
            guard let equals = body.firstIndex(of: "=") else { continue }
            properties[String(body[..<equals])] = String(body[body.index(after: equals)...])
        }
        self.properties = properties
    }

    /// The entry of block device `majorMinor` under `run` (`udev/data/b8:16`), or `nil` when there is none.
    public static func read(majorMinor: String, under run: SysfsRoot) -> UdevDatabaseEntry? {
        guard let text = try? run.read("udev/data/b\(majorMinor)") else { return nil }
        return UdevDatabaseEntry(text: text)
    }

    /// `ID_FS_TYPE`: what blkid found on the device.
    public var filesystemType: String? { properties["ID_FS_TYPE"] }
    /// `ID_FS_LABEL`: a ZFS pool's name, an md array's `host:name`, a filesystem's label.
    public var filesystemLabel: String? { properties["ID_FS_LABEL"] }

    /// The member signatures that mean the host assembles or imports the device (udev rules, ZFS's import):
    /// `zfs_member`, `linux_raid_member`, `LVM2_member`, `crypto_LUKS`, with a sentence naming what it belongs to.
    public var membership: String? {
        let label = filesystemLabel.map { " \($0)" } ?? ""
        let uuid = properties["ID_FS_UUID"].map { " (UUID \($0))" } ?? ""
        switch filesystemType {
        case "zfs_member": return "a member of ZFS pool\(label.isEmpty ? " (name unknown)" : label)"
        case "linux_raid_member": return "a member of md RAID array\(label.isEmpty ? uuid : label)"
        case "LVM2_member": return "an LVM physical volume\(uuid)"
        case "crypto_LUKS": return "a LUKS encrypted volume\(uuid)"
        default: return nil
        }
    }
}
