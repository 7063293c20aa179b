import Sysfs

extension HostUseCollector {
    /// Mounts of the other mount namespaces: `proc/PID/mountinfo` of one process per namespace, the namespace told by
    /// the target of `proc/PID/ns/mnt` (`mnt:[4026532200]`), its own (`proc/self/ns/mnt`) left out. Namespaces no
    /// process is in (held only by a bind mount or an open file) are not seen here; the exclusive-open probe still
    /// finds a disk mounted there.
    mutating func mountsOfOtherNamespaces() -> [ProcFiles.Mount] {
        guard let own = try? proc.readLink("self/ns/mnt") else { return [] }
        var seen: Set<String> = [own]
        var result: [ProcFiles.Mount] = []
        let pids = ((try? proc.list("")) ?? []).compactMap { Int($0) }.sorted()
        for pid in pids {
            guard let namespace = try? proc.readLink("\(pid)/ns/mnt"), !seen.contains(namespace) else { continue }
            guard let text = try? proc.read("\(pid)/mountinfo") else { continue }
            seen.insert(namespace)
            result += ProcFiles.mounts(text).map { mount in
                var mount = mount
                mount.namespace = "\(namespace) (pid \(pid))"
                mount.file = "proc/\(pid)/mountinfo"
                return mount
            }
        }
        return result
    }

    /// Network devices bound to a host network driver with no interface visible here (`class/net/*` and the device's
    /// `net/` show only this network namespace's interfaces): one was moved into a container's or pod's namespace
    /// (SR-IOV CNI, host-device CNI, `ip link set … netns`). In use elsewhere unless the policy says otherwise
    /// (`[host_use] netdev_elsewhere = "free"`).
    mutating func networkElsewhere(graph: TopologyGraph) {
        guard options.netdevElsewhereInUse else { return }
        for device in graph.sortedDevices {
            guard let classCode = device.classCode, classCode >> 16 == 0x02, let driver = device.driver,
                  !Self.isParkingDriver(driver), !devicesWithInterfaces.contains(device.address) else { continue }
            add(device.address, .networkElsewhere,
                "is bound to network driver \(driver) but has no network interface in this network namespace: its interface was moved into another one (a container or pod), or the driver made none",
                ["class/net", "\(PCIPaths.device(device.address))/driver"])
        }
    }

    /// Drivers that park a device for a guest and never make a network interface.
    static func isParkingDriver(_ driver: String) -> Bool {
        driver == "pci-stub" || driver.hasPrefix("vfio")
    }
}
