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
        /// A disk or partition under the device belongs to something the host assembles or has open: a ZFS pool,
        /// an md array, an LVM volume group, a LUKS volume (udev's database) or a mounted multi-device btrfs
        /// (`fs/btrfs/UUID/devices`).
        case blockMember = "block_member"
        /// A disk under the device refuses an exclusive open (`EBUSY`): the kernel holds it for a user not otherwise seen.
        case heldExclusively = "held_exclusively"
        /// The device is bound to a host network driver but none of its interfaces is visible here: moved into
        /// another network namespace (a container or pod).
        case networkElsewhere = "network_elsewhere"
        /// The device carries every keyboard the host has (`class/input`).
        case keyboard
        /// The device carries the kernel's console (`console=` in `/proc/cmdline`, `/proc/consoles`; `class/tty`).
        case console
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
/// `block/X/holders/*` recursively, `block/dm-N/dm/name`, `block/mdN/md/level`, for NVMe namespaces under a subsystem
/// node `block/X/multipath/*`, `class/nvme/*`, `class/nvme-subsystem/*/nvmeN`, `fs/btrfs/*/devices/*`, `class/net/*`
/// with `operstate`, `flags` and `master`, `bus/pci/devices/*/boot_vga`, `class/graphics/fb*/device`,
/// `class/drm/card*/device`, `class/vtconsole/*/{name,bind}`, `class/tty/*/device`, `class/input/*/capabilities/key`.
/// Under the proc root: `self/mountinfo`, `PID/ns/mnt` and `PID/mountinfo` (other mount namespaces), `swaps`,
/// `net/if_inet6`, `net/fib_trie`, `net/route`, `net/ipv6_route`, `cmdline`, `consoles`. Under the run root:
/// `udev/data/b*`. On the running host only, an `O_EXCL` open of disks nothing else explains (``ExclusiveOpenProbe``).
/// Never writes. Every layout and its test: `docs/host-use.md`.
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

    /// Runs the analysis: `sysfs` plays `/sys`, `proc` plays `/proc` (both may be test trees). `/run` and `/dev` are
    /// read only when both are the running host's (``HostUseSources/inferred(sysfs:proc:)``).
    public static func analyse(graph: TopologyGraph, sysfs: SysfsRoot, proc: SysfsRoot,
                               options: HostUseOptions = HostUseOptions()) -> HostUseAnalysis {
        analyse(graph: graph, sources: .inferred(sysfs: sysfs, proc: proc), options: options)
    }

    /// Runs the analysis on explicit sources (a test's `run` tree, a fake exclusive-open probe).
    public static func analyse(graph: TopologyGraph, sources: HostUseSources,
                               options: HostUseOptions = HostUseOptions()) -> HostUseAnalysis {
        var analysis = HostUseAnalysis(inUse: [:], problems: [])
        var collector = HostUseCollector(sources: sources, options: options)
        collector.blockDevices()
        collector.networkInterfaces()
        collector.networkElsewhere(graph: graph)
        collector.display(graph: graph)
        collector.consoles()
        collector.keyboards()
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

/// Gathers direct reasons per device. The block, namespace, console and input parts live in files of their own
/// (`HostUse*.swift`).
struct HostUseCollector {
    let sources: HostUseSources
    let options: HostUseOptions
    var sysfs: SysfsRoot { sources.sysfs }
    var proc: SysfsRoot { sources.proc }
    var reasons: [PCIAddress: [HostUseReason]] = [:]
    var problems: [String] = []
    /// Parent bridges seen in resolved paths (for devices the graph may not hold).
    var parents: [PCIAddress: PCIAddress] = [:]
    /// Devices with at least one network interface visible in `class/net`.
    var devicesWithInterfaces: Set<PCIAddress> = []
    /// While one disk is examined: the devices that carry it, each with a note on how (`nil` when the disk is
    /// under the device in the tree; the NVMe subsystem path otherwise).
    var diskCarriers: [(device: PCIAddress, via: String?)] = []

    init(sources: HostUseSources, options: HostUseOptions) {
        self.sources = sources
        self.options = options
    }

    mutating func add(_ address: PCIAddress, _ kind: HostUseReason.Kind, _ message: String, _ sources: [String]) {
        let reason = HostUseReason(kind: kind, message: message, sources: sources)
        if reasons[address]?.contains(reason) != true { reasons[address, default: []].append(reason) }
    }

    /// A reason for the disk being examined, given to every device that carries it.
    mutating func addForDisk(_ kind: HostUseReason.Kind, _ message: String, _ sources: [String]) {
        for carrier in diskCarriers {
            add(carrier.device, kind, message + (carrier.via.map { " [\($0)]" } ?? ""), sources)
        }
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
        let mounts = (mountsText.map(ProcFiles.mounts) ?? []) + mountsOfOtherNamespaces()
        let swaps = swapsText.map(ProcFiles.swaps) ?? []
        let members = StackedMembers(btrfs: btrfsMembers(mounts: mounts))
        let zfsMounts = mounts.filter { $0.fsType == "zfs" }
        let udevReadable = sources.run.map { $0.exists("udev/data") } ?? false
        for disk in disks.sorted() {
            diskCarriers = carriers(ofDisk: disk)
            guard !diskCarriers.isEmpty else { continue }
            let diskNode = node(disk, at: "block/\(disk)")
            if mountsText == nil || swapsText == nil {
                let missing = [mountsText == nil ? "proc/self/mountinfo" : nil, swapsText == nil ? "proc/swaps" : nil]
                    .compactMap { $0 }
                addForDisk(.blockUnknown,
                    "carries disk \(disk), and \(missing.joined(separator: " and ")) cannot be read, so whether it backs a filesystem or swap is unknown",
                    ["block/\(disk)"] + missing)
            }
            let before = diskCarriers.map { reasons[$0.device]?.count ?? 0 }
            for part in withPartitions(diskNode) {
                report(part, via: [], mounts: mounts, swaps: swaps, members: members)
                // Holders, recursively: dm (LVM, crypt, multipath) and md (RAID) built on this disk or partition.
                var queue: [(holder: String, chain: [String], heldPath: String)] =
                    holders(of: part.path).map { ($0, [part.label], part.path) }
                var visited = Set<String>()
                while !queue.isEmpty {
                    let (holder, chain, heldPath) = queue.removeFirst()
                    guard !visited.contains(holder) else { continue }
                    visited.insert(holder)
                    let holderNode = node(holder, at: "block/\(holder)")
                    addForDisk(.blockHolder,
                        "\(chain.last ?? part.name) is held by \(holderNode.label), \(holderKind(holderNode))",
                        ["\(heldPath)/holders/\(holder)"])
                    for piece in withPartitions(holderNode) {
                        report(piece, via: chain, mounts: mounts, swaps: swaps, members: members)
                        for next in holders(of: piece.path) { queue.append((next, chain + [piece.label], piece.path)) }
                    }
                }
            }
            let foundNothing = zip(diskCarriers, before).allSatisfy { (reasons[$0.device]?.count ?? 0) == $1 }
            guard foundNothing else { continue }
            if !zfsMounts.isEmpty && !udevReadable && sources.exclusiveOpen == nil {
                let first = zfsMounts[0]
                addForDisk(.blockUnknown,
                    "carries disk \(disk), and a ZFS filesystem is mounted (\(first.source) at \(first.mountPoint)) while udev's database (run/udev/data) cannot be read, so whether \(disk) is one of its pool's devices is unknown",
                    ["proc/self/mountinfo", "run/udev/data"])
            }
            probeExclusiveOpen(diskNode)
        }
        diskCarriers = []
    }

    /// Asks the exclusive-open probe about a disk nothing else explained: `EBUSY` means the kernel holds it.
    mutating func probeExclusiveOpen(_ disk: BlockNode) {
        guard let probe = sources.exclusiveOpen, let majorMinor = disk.majorMinor else { return }
        switch probe.exclusiveOpen(name: disk.name, majorMinor: majorMinor) {
        case .free: break
        case .held:
            addForDisk(.heldExclusively,
                "carries disk \(disk.name) (\(majorMinor)), which refuses an exclusive open (EBUSY): the kernel holds it for a user not seen otherwise (a ZFS pool, btrfs, md, device-mapper, or a mount in a namespace not visible here)",
                ["dev/block/\(majorMinor)"])
        case .unknown(let why):
            problems.append("exclusive open of \(disk.name): \(why)")
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

    /// Mounts, swap and memberships on `node`; `via` names the disks/partitions below it when it is a holder.
    mutating func report(_ node: BlockNode, via chain: [String], mounts: [ProcFiles.Mount], swaps: [ProcFiles.Swap],
                         members: StackedMembers) {
        let names = Set(["/dev/\(node.name)"] + (node.dmName.map { ["/dev/mapper/\($0)"] } ?? []))
        let through = chain.isEmpty ? "" : ", on \(chain.joined(separator: " on "))"
        for mount in mounts where (node.majorMinor != nil && mount.majorMinor == node.majorMinor) || names.contains(mount.source) {
            let number = node.majorMinor.map { ", \($0)" } ?? ""
            addForDisk(.mountedFilesystem,
                "backs \(mount.place) (mounted \(mount.fsType) filesystem on \(node.label)\(number)\(through))",
                [mount.file, "\(node.path)/dev"])
        }
        for swap in swaps where names.contains(swap.filename) {
            addForDisk(.swap, "backs swap \(swap.filename) (on \(node.label)\(through))", ["proc/swaps"])
        }
        for member in members.btrfs[node.name] ?? [] {
            addForDisk(.blockMember, "\(node.label)\(through) is a device of \(member.message)", member.sources)
        }
        if let majorMinor = node.majorMinor, let run = sources.run,
           let entry = UdevDatabaseEntry.read(majorMinor: majorMinor, under: run), let membership = entry.membership {
            var message = "\(node.label)\(through) is \(membership) (udev: ID_FS_TYPE=\(entry.filesystemType ?? ""))"
            if entry.filesystemType == "zfs_member" {
                let pool = entry.filesystemLabel
                let datasets = mounts.filter { $0.fsType == "zfs" && (pool == nil || $0.source.split(separator: "/").first.map(String.init) == pool) }
                if datasets.isEmpty {
                    message += ", which the host may import"
                } else {
                    let shown = datasets.prefix(3).map { "\($0.place) (\($0.source))" }.joined(separator: ", ")
                    message += ", which backs \(shown)\(datasets.count > 3 ? " and \(datasets.count - 3) more" : "")"
                }
            } else {
                message += ", which the host assembles or opens"
            }
            addForDisk(.blockMember, message, ["run/udev/data/b\(majorMinor)"] + (entry.filesystemType == "zfs_member" ? ["proc/self/mountinfo"] : []))
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
            devicesWithInterfaces.insert(device)
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
