import Sysfs
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reason a device must not be detached from the host, naming the evidence.
public struct HostUseReason: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A disk or partition under the device (or a dm/md device built on it) is mounted.
        case mountedFilesystem = "mounted_filesystem"
        /// A disk or partition under the device (or a dm/md device built on it) is active swap.
        case swap
        /// A partition or disk under the device is held by device-mapper (LVM, crypt) or md (RAID).
        case blockHolder = "block_holder"
        /// The device carries a disk, and whether it is in use cannot be told (a /proc file is unreadable).
        case blockUnknown = "block_unknown"
        /// A network interface of the device is up, has addresses or routes, or is enslaved in a bond/bridge.
        case networkInterface = "network_interface"
        /// `boot_vga` is 1.
        case bootVGA = "boot_vga"
        /// A framebuffer (`class/graphics/fb*`), possibly the active console, is on the device.
        case framebuffer
        /// A DRM device (`class/drm/card*`) is on the device.
        case drm
        /// The device is a bridge upstream of a device in host use.
        case upstream
        /// The device is the PF of a VF in host use (resetting or unbinding the PF removes its VFs).
        case physicalFunction = "physical_function"
    }

    public var kind: Kind
    /// A sentence naming the evidence: `backs / (mounted filesystem on sda1, 8:1)`.
    public var message: String
    /// The files the evidence came from, relative to the sysfs or proc root (`proc/self/mountinfo`).
    public var sources: [String]

    public init(kind: Kind, message: String, sources: [String]) {
        self.kind = kind
        self.message = message
        self.sources = sources
    }

    public var description: String { message }
}

/// Whether one device may be detached from the host, and why not.
public struct HostUseVerdict: Sendable, Hashable, Codable {
    public var address: PCIAddress
    /// No reason stands in the way.
    public var safe: Bool { reasons.isEmpty }
    public var reasons: [HostUseReason]

    public init(address: PCIAddress, reasons: [HostUseReason]) {
        self.address = address
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey { case address, safe, reasons }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        address = try container.decode(PCIAddress.self, forKey: .address)
        reasons = try container.decode([HostUseReason].self, forKey: .reasons)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(address, forKey: .address)
        try container.encode(safe, forKey: .safe)
        try container.encode(reasons, forKey: .reasons)
    }
}

/// Which PCI devices the host itself relies on: disks that back mounted filesystems, swap or RAID/LVM,
/// network interfaces in use, the boot VGA and console, and the bridges above them.
///
/// Reads, under the sysfs root: `block/*` (links into the device tree), `block/X/dev`, `block/X/P/partition`,
/// `block/X/holders/*` recursively, `block/dm-N/dm/name`, `block/mdN/md/level`, `class/net/*` with `operstate`,
/// `flags` and `master`, `bus/pci/devices/*/boot_vga`, `class/graphics/fb*/device`, `class/drm/card*/device`,
/// `class/vtconsole/*/{name,bind}`. Under the proc root: `self/mountinfo`, `swaps`, `net/if_inet6`, `net/fib_trie`,
/// `net/route`, `net/ipv6_route`. Never writes.
///
/// Errs on the side of the host: a disk whose use cannot be told because a /proc file is unreadable counts as in use.
public struct HostUseAnalysis: Sendable {
    /// Verdicts of the devices with at least one reason, by address. Devices not listed are safe.
    public private(set) var inUse: [PCIAddress: [HostUseReason]]
    /// Files that could not be read or made sense of (the analysis went on without them).
    public private(set) var problems: [String]

    /// The verdict for the device at `address` (safe when nothing was found).
    public func verdict(for address: PCIAddress) -> HostUseVerdict {
        HostUseVerdict(address: address, reasons: inUse[address] ?? [])
    }

    /// Verdicts of every device of `graph`, in address order.
    public func verdicts(in graph: TopologyGraph) -> [HostUseVerdict] {
        graph.sortedDevices.map { verdict(for: $0.address) }
    }

    /// Runs the analysis: `sysfs` plays `/sys`, `proc` plays `/proc` (both may be test trees).
    public static func analyse(graph: TopologyGraph, sysfs: SysfsRoot, proc: SysfsRoot) -> HostUseAnalysis {
        var analysis = HostUseAnalysis(inUse: [:], problems: [])
        var collector = Collector(sysfs: sysfs, proc: proc)
        collector.blockDevices()
        collector.networkInterfaces()
        collector.display(graph: graph)
        analysis.problems = collector.problems
        var direct = collector.reasons
        // A VF in use keeps its PF: unbinding or resetting the PF destroys the VF.
        for (address, reasons) in direct {
            guard let pf = graph.devices[address]?.physfn, let first = reasons.first else { continue }
            direct[pf, default: []].append(HostUseReason(
                kind: .physicalFunction, message: "is the physical function of \(address), which is in host use (\(first.message))",
                sources: ["\(PCIPaths.device(address))/physfn"]))
        }
        var all = direct
        // Bridges above a device in use: detaching them cuts it off.
        for address in direct.keys.sorted() {
            guard let first = direct[address]?.first else { continue }
            var seen = Set<PCIAddress>()
            var parent = graph.devices[address]?.parent ?? collector.parents[address]
            while let bridge = parent, !seen.contains(bridge) {
                seen.insert(bridge)
                all[bridge, default: []].append(HostUseReason(
                    kind: .upstream, message: "is upstream of \(address), which is in host use (\(first.message))",
                    sources: [PCIPaths.device(address)]))
                parent = graph.devices[bridge]?.parent ?? collector.parents[bridge]
            }
        }
        analysis.inUse = all
        return analysis
    }
}

/// Gathers direct reasons per device.
private struct Collector {
    let sysfs: SysfsRoot
    let proc: SysfsRoot
    var reasons: [PCIAddress: [HostUseReason]] = [:]
    var problems: [String] = []
    /// Parent bridges seen in resolved paths (for devices the graph may not hold).
    var parents: [PCIAddress: PCIAddress] = [:]

    init(sysfs: SysfsRoot, proc: SysfsRoot) {
        self.sysfs = sysfs
        self.proc = proc
    }

    mutating func add(_ address: PCIAddress, _ kind: HostUseReason.Kind, _ message: String, _ sources: [String]) {
        let reason = HostUseReason(kind: kind, message: message, sources: sources)
        if reasons[address]?.contains(reason) != true { reasons[address, default: []].append(reason) }
    }

    /// Reads a /proc file, noting a problem when it is unreadable.
    mutating func readProc(_ relative: String) -> String? {
        do {
            return try proc.read(relative)
        } catch {
            problems.append("proc/\(relative): \(error)")
            return nil
        }
    }

    /// The PCI function a sysfs link leads into: the deepest `DDDD:BB:SS.F` component of its resolved path
    /// (`realpath(3)`, so links inside linked directories resolve as the kernel lays them out).
    /// Records the parent chain seen in the path on the way.
    mutating func pciDevice(behindLink relative: String) -> PCIAddress? {
        guard sysfs.existsWithoutFollowing(relative), let resolved = Self.realPath(sysfs.absolute(relative)) else { return nil }
        let rootPath = Self.realPath(sysfs.path) ?? sysfs.path
        guard resolved.hasPrefix(rootPath) else { return nil }
        let components = resolved.dropFirst(rootPath.count).split(separator: "/")
        let addresses = components.compactMap { PCIAddress($0) }
        for (parent, child) in zip(addresses, addresses.dropFirst()) { parents[child] = parent }
        return addresses.last
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    // MARK: Block devices

    struct BlockNode {
        /// `sda1`, `dm-0`.
        var name: String
        /// Relative sysfs path of its directory (`block/sda/sda1`, `block/dm-0`).
        var path: String
        var majorMinor: String?
        /// `vg-root` for dm devices.
        var dmName: String?

        var label: String {
            var text = name
            if let dmName { text += " (\(dmName))" }
            return text
        }
    }

    func node(_ name: String, at path: String) -> BlockNode {
        BlockNode(name: name, path: path, majorMinor: try? sysfs.read("\(path)/dev"),
                  dmName: try? sysfs.read("\(path)/dm/name"))
    }

    /// The disk at `path` and its partitions (subdirectories with a `partition` file).
    func withPartitions(_ disk: BlockNode) -> [BlockNode] {
        let entries = (try? sysfs.list(disk.path)) ?? []
        let partitions = entries.sorted().filter { sysfs.exists("\(disk.path)/\($0)/partition") }
            .map { node($0, at: "\(disk.path)/\($0)") }
        return [disk] + partitions
    }

    mutating func blockDevices() {
        guard let disks = try? sysfs.list("block") else { return }
        let mountsText = readProc("self/mountinfo")
        let swapsText = readProc("swaps")
        let mounts = mountsText.map(ProcFiles.mounts) ?? []
        let swaps = swapsText.map(ProcFiles.swaps) ?? []
        for disk in disks.sorted() {
            guard let device = pciDevice(behindLink: "block/\(disk)") else { continue }
            let diskNode = node(disk, at: "block/\(disk)")
            if mountsText == nil || swapsText == nil {
                let missing = [mountsText == nil ? "proc/self/mountinfo" : nil, swapsText == nil ? "proc/swaps" : nil]
                    .compactMap { $0 }
                add(device, .blockUnknown,
                    "carries disk \(disk), and \(missing.joined(separator: " and ")) cannot be read, so whether it backs a filesystem or swap is unknown",
                    ["block/\(disk)"] + missing)
            }
            for part in withPartitions(diskNode) {
                report(part, via: [], on: device, mounts: mounts, swaps: swaps)
                // Holders, recursively: dm (LVM, crypt, multipath) and md (RAID) built on this disk or partition.
                var queue: [(holder: String, chain: [String], heldPath: String)] =
                    holders(of: part.path).map { ($0, [part.label], part.path) }
                var visited = Set<String>()
                while !queue.isEmpty {
                    let (holder, chain, heldPath) = queue.removeFirst()
                    guard !visited.contains(holder) else { continue }
                    visited.insert(holder)
                    let holderNode = node(holder, at: "block/\(holder)")
                    add(device, .blockHolder,
                        "\(chain.last ?? part.name) is held by \(holderNode.label), \(holderKind(holderNode))",
                        ["\(heldPath)/holders/\(holder)"])
                    for piece in withPartitions(holderNode) {
                        report(piece, via: chain, on: device, mounts: mounts, swaps: swaps)
                        for next in holders(of: piece.path) { queue.append((next, chain + [piece.label], piece.path)) }
                    }
                }
            }
        }
    }

    func holders(of path: String) -> [String] {
        ((try? sysfs.list("\(path)/holders")) ?? []).sorted()
    }

    func holderKind(_ node: BlockNode) -> String {
        if node.name.hasPrefix("md"), let level = try? sysfs.read("block/\(node.name)/md/level") {
            return "a RAID device (md, \(level))"
        }
        if node.name.hasPrefix("md") { return "a RAID device (md)" }
        if let uuid = try? sysfs.read("block/\(node.name)/dm/uuid") {
            if uuid.hasPrefix("LVM-") { return "an LVM logical volume (device-mapper)" }
            if uuid.hasPrefix("CRYPT-") { return "an encrypted volume (dm-crypt)" }
        }
        if node.name.hasPrefix("dm-") { return "a device-mapper device (LVM, crypt or multipath)" }
        return "a stacked block device"
    }

    /// Mounts and swap on `node`; `via` names the disks/partitions below it when it is a holder.
    mutating func report(_ node: BlockNode, via chain: [String], on device: PCIAddress,
                         mounts: [ProcFiles.Mount], swaps: [ProcFiles.Swap]) {
        let names = Set(["/dev/\(node.name)"] + (node.dmName.map { ["/dev/mapper/\($0)"] } ?? []))
        let through = chain.isEmpty ? "" : ", on \(chain.joined(separator: " on "))"
        for mount in mounts where (node.majorMinor != nil && mount.majorMinor == node.majorMinor) || names.contains(mount.source) {
            let number = node.majorMinor.map { ", \($0)" } ?? ""
            add(device, .mountedFilesystem,
                "backs \(mount.mountPoint) (mounted \(mount.fsType) filesystem on \(node.label)\(number)\(through))",
                ["proc/self/mountinfo", "\(node.path)/dev"])
        }
        for swap in swaps where names.contains(swap.filename) {
            add(device, .swap, "backs swap \(swap.filename) (on \(node.label)\(through))", ["proc/swaps"])
        }
    }

    // MARK: Network

    mutating func networkInterfaces() {
        guard let names = try? sysfs.list("class/net") else { return }
        let routes4 = readProc("net/route").map(ProcFiles.ipv4Routes) ?? []
        let routes6 = readProc("net/ipv6_route").map(ProcFiles.ipv6Routes) ?? []
        let addresses6 = readProc("net/if_inet6").map(ProcFiles.ipv6Addresses) ?? []
        let local4 = readProc("net/fib_trie").map(ProcFiles.localIPv4Addresses) ?? []
        var addresses: [String: [String]] = [:]
        if proc.path == "/proc", let live = InterfaceAddresses.ipv4() {
            // The running host: the kernel names each address's interface, down or not.
            addresses = live
        } else {
            for address in local4 {
                if let interface = ProcFiles.attribute(address, to: routes4) {
                    addresses[interface, default: []].append(ProcFiles.ipv4(address))
                }
            }
        }
        for entry in addresses6 { addresses[entry.interface, default: []].append(entry.address) }

        for name in names.sorted() {
            guard let device = pciDevice(behindLink: "class/net/\(name)") else { continue }
            var facts: [String] = []
            var sources: [String] = []
            let operstate = try? sysfs.read("class/net/\(name)/operstate")
            let flags = (try? sysfs.read("class/net/\(name)/flags")).flatMap { UInt32($0.dropFirst($0.hasPrefix("0x") ? 2 : 0), radix: 16) }
            if operstate == "up" || (flags.map { $0 & 0x1 != 0 } ?? false) {
                var state = "is up"
                if let operstate, operstate != "up" { state += " (administratively; operstate \(operstate))" }
                facts.append(state)
                sources.append("class/net/\(name)/operstate")
                sources.append("class/net/\(name)/flags")
            }
            if let list = addresses[name], !list.isEmpty {
                facts.append("has address\(list.count > 1 ? "es" : "") \(list.joined(separator: ", "))")
                sources.append(contentsOf: ["proc/net/fib_trie", "proc/net/if_inet6"])
            }
            let routes = (routes4 + routes6).filter { $0.interface == name }
            if !routes.isEmpty {
                facts.append("carries route\(routes.count > 1 ? "s" : "") \(routes.map(\.description).joined(separator: ", "))")
                sources.append(contentsOf: ["proc/net/route", "proc/net/ipv6_route"])
            }
            if let master = try? sysfs.linkName("class/net/\(name)/master") {
                let kind = sysfs.exists("class/net/\(master)/bonding") ? "bond"
                    : sysfs.exists("class/net/\(master)/bridge") ? "bridge" : "master device"
                var fact = "is enslaved in \(kind) \(master)"
                if let list = addresses[master], !list.isEmpty { fact += " (which has \(list.joined(separator: ", ")))" }
                facts.append(fact)
                sources.append("class/net/\(name)/master")
            }
            guard !facts.isEmpty else { continue }
            add(device, .networkInterface, "carries \(name), which \(joinFacts(facts))", sources)
        }
    }

    func joinFacts(_ facts: [String]) -> String {
        guard facts.count > 1 else { return facts.first ?? "" }
        return facts.dropLast().joined(separator: ", ") + " and " + facts.last!
    }

    // MARK: Display

    mutating func display(graph: TopologyGraph) {
        for device in graph.sortedDevices {
            if (try? sysfs.read("\(PCIPaths.device(device.address))/boot_vga")) == "1" {
                add(device.address, .bootVGA, "is the boot VGA device (boot_vga = 1)",
                    ["\(PCIPaths.device(device.address))/boot_vga"])
            }
        }
        var console: String?
        for vtcon in ((try? sysfs.list("class/vtconsole")) ?? []).sorted() {
            let name = (try? sysfs.read("class/vtconsole/\(vtcon)/name")) ?? ""
            if (try? sysfs.read("class/vtconsole/\(vtcon)/bind")) == "1", name.contains("frame buffer") {
                console = "\(vtcon): \(name)"
            }
        }
        for fb in ((try? sysfs.list("class/graphics")) ?? []).sorted() where fb.hasPrefix("fb") {
            guard let device = pciDevice(behindLink: "class/graphics/\(fb)/device") ?? pciDevice(behindLink: "class/graphics/\(fb)") else { continue }
            let note = console.map { ", the active console (\($0))" } ?? ""
            add(device, .framebuffer, "drives framebuffer \(fb)\(note)",
                ["class/graphics/\(fb)/device"] + (console == nil ? [] : ["class/vtconsole"]))
        }
        for card in ((try? sysfs.list("class/drm")) ?? []).sorted() {
            guard card.hasPrefix("card"), card.dropFirst(4).allSatisfy(\.isNumber), card.count > 4 else { continue }
            guard let device = pciDevice(behindLink: "class/drm/\(card)/device") ?? pciDevice(behindLink: "class/drm/\(card)") else { continue }
            add(device, .drm, "drives DRM device \(card) (a display or render client may be using it)", ["class/drm/\(card)/device"])
        }
    }
}
