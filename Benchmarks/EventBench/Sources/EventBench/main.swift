// The event path, per uevent: UeventDecoder (property dictionary → DeviceEvent) → TopologyGraph.apply (re-reads
// the device, and its PF for a VF, under the sysfs root) → Planner.enforce (the device and its group's members),
// as Engine.handle does minus the journal and the executor. And the engine's resident memory after a scan and over
// a million events.
//
//   EventBench events DIR [--events N] [--groups N] [--per-group N]   DIR: where the generated tree goes
//   EventBench memory DIR [--events N] [--groups N] [--per-group N]
//   EventBench load DIR [--journal DIR] [--clients N] [--requests N] [--events N] [--buffer N] [--claim-every N] [--rounds N]
//                                        (LoadRun: control clients at once and a VF storm; see LoadMode.swift)
//
// Events are not synthesised: a SimulatedKernel plays bind/unbind, driver changes, SR-IOV VF creation and removal
// and hotplug/unplug on the generated tree, and the uevents it emits are recorded, turned into the property
// dictionaries libudev hands over (ACTION, DEVPATH, SUBSYSTEM, PCI_SLOT_NAME, PCI_ID, PCI_SUBSYS_ID, PCI_CLASS,
// MODALIAS, DRIVER, SEQNUM, USEC_INITIALIZED), then replayed in a loop against the tree in its final state.
#if canImport(Glibc)
import Glibc
#endif
import Agent
import Foundation
import Enforcement
import SimulatedKernel
import Sysfs
import Topology
import Udev

// MARK: Options

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.count >= 2, arguments[0] == "load" { exit(await runLoad(directory: arguments[1], arguments: Array(arguments.dropFirst(2)))) }
guard arguments.count >= 2, ["events", "memory"].contains(arguments[0]) else {
    print("usage: EventBench events|memory|load DIR [--events N] [--groups N] [--per-group N] [--pfs N]")
    exit(2)
}
let mode = arguments.removeFirst()
let directory = arguments.removeFirst()
var options = ["--events": mode == "events" ? 100_000 : 1_000_000, "--groups": 1024, "--per-group": 4, "--pfs": 16,
               "--live": 20_000]
while arguments.count >= 2, options[arguments[0]] != nil, let value = Int(arguments[1]) {
    options[arguments[0]] = value
    arguments.removeFirst(2)
}
let eventCount = options["--events"]!, groupCount = options["--groups"]!, perGroup = options["--per-group"]!
let pfCount = options["--pfs"]!

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Resident set size of this process, from `/proc/self/status` (VmRSS, and VmHWM the peak), in kB.
func residentKB() -> (rss: Int, peak: Int) {
    guard let file = fopen("/proc/self/status", "r") else { return (0, 0) }
    defer { fclose(file) }
    var rss = 0, peak = 0
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(cString: line)
        let number = Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        if text.hasPrefix("VmRSS:") { rss = number }
        if text.hasPrefix("VmHWM:") { peak = number }
    }
    return (rss, peak)
}

/// A small deterministic generator (SplitMix64), so every run plays the same events.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// MARK: The tree and the recorded events

/// The generated host (`example-tree --host generated`) plus `pfCount` SR-IOV NVMe PFs (8 VFs each) behind root
/// ports of their own in domain 0x0001.
func buildTree(at path: String) throws -> SysfsTree {
    var specs = ExampleHosts.generated(groups: groupCount, perGroup: perGroup)
    for index in 0..<pfCount {
        let port = PCIAddress(domain: 1, bus: 0, slot: UInt8(index / 8), function: UInt8(index % 8))
        let bus = UInt8(index + 1)
        specs.append(DeviceSpec(port, vendor: 0x8086, device: 0xa110, classCode: 0x060400, driver: "pcieport",
                                group: groupCount + 2 * index, secondaryBus: bus))
        specs.append(DeviceSpec(PCIAddress(domain: 1, bus: bus, slot: 0, function: 0), vendor: 0x1b36, device: 0x0010,
                                classCode: 0x010802, driver: "nvme", group: groupCount + 2 * index + 1, parent: port,
                                sriovTotalVFs: 8))
    }
    return try ExampleHosts.build(specs, at: SysfsRoot(path))
}

/// Plays happenings on the simulated kernel until at least `target` uevents were emitted; leaves the tree with the
/// same devices it started with (VFs disabled, hot-plugged devices unplugged), drivers as the happenings left them.
func recordEvents(kernel: SimulatedKernel, graph: TopologyGraph, target: Int,
                  handler: ([DeviceEvent]) -> Void = { _ in }) -> [DeviceEvent] {
    var random = SplitMix(state: 0x5EED)
    let endpoints = graph.sortedDevices.filter { !$0.isBridge && $0.physfn == nil && $0.sriov == nil }.map(\.address)
    let pfs = graph.sortedDevices.filter { ($0.sriov?.totalVFs ?? 0) > 0 }.map(\.address)
    let ports = graph.sortedDevices.filter { $0.isBridge && $0.address.domain >= 0x10 }
    let hostDrivers = ["e1000e", "igb", "nvme", "ixgbe"]
    var events: [DeviceEvent] = []
    var failures = 0
    while events.count < target {
        let before = events.count
        defer { if events.count > before { handler(Array(events[before...])) } }
        do {
            switch random.below(100) {
            case 0..<55: // a driver change on an endpoint: a module binds it, the agent or an operator rebinds it
                let address = endpoints[random.below(endpoints.count)]
                let driver = random.below(2) == 0 ? "vfio-pci" : hostDrivers[random.below(hostDrivers.count)]
                events += try kernel.unbind(address)
                events += try kernel.bind(address, driver: driver)
            case 55..<75: // SR-IOV: 1 to 8 VFs appear (add + bind), then go (unbind + remove)
                guard !pfs.isEmpty else { continue }
                let pf = pfs[random.below(pfs.count)]
                events += try kernel.setNumVFs(pf, to: 1 + random.below(8))
                events += try kernel.setNumVFs(pf, to: 0)
            default: // hotplug of a function into an existing group's bus, then surprise removal
                let port = ports[random.below(ports.count)]
                guard let bus = port.sriov == nil ? secondaryBus(of: port.address, in: graph) : nil else { continue }
                let address = PCIAddress(domain: port.address.domain, bus: bus, slot: 1, function: 0)
                let spec = DeviceSpec(address, vendor: 0x8086, device: 0x10d3, classCode: 0x020000,
                                      driver: hostDrivers[random.below(hostDrivers.count)],
                                      group: port.iommuGroup, parent: port.address)
                events += try kernel.hotplug(spec)
                events += try kernel.unplug(address)
            }
        } catch {
            failures += 1
            if failures > 10_000 { fatalError("the simulated kernel refuses the happenings: \(error)") }
        }
    }
    return events
}

func secondaryBus(of port: PCIAddress, in graph: TopologyGraph) -> UInt8? {
    graph.devices.values.first(where: { $0.parent == port })?.address.bus
}

/// The properties libudev lists for a PCI uevent (udevadm monitor --property on a real host shows these).
func properties(of event: DeviceEvent, device: PCIDevice?) -> [String: String] {
    var properties = [
        "ACTION": event.action.rawValue,
        "DEVPATH": event.devpath ?? "/devices/pci0000:00/\(event.address)",
        "SUBSYSTEM": "pci",
        "PCI_SLOT_NAME": event.address.description,
        "SEQNUM": String(event.seqnum ?? 0),
        "USEC_INITIALIZED": "1234567890",
    ]
    if let driver = event.driver { properties["DRIVER"] = driver }
    if let device, let vendor = device.vendorID, let id = device.deviceID {
        properties["PCI_ID"] = "\(hex(vendor, width: 4).uppercased()):\(hex(id, width: 4).uppercased())"
        properties["PCI_SUBSYS_ID"] = "\(hex(device.subsystemVendorID ?? 0, width: 4).uppercased()):\(hex(device.subsystemDeviceID ?? 0, width: 4).uppercased())"
        properties["PCI_CLASS"] = hex(device.classCode ?? 0, width: 6).uppercased()
        properties["MODALIAS"] = "pci:v0000\(hex(vendor, width: 4).uppercased())d0000\(hex(id, width: 4).uppercased())sv*sd*bc*sc*i*"
    }
    return properties
}

/// Assignments for every other group (whole group to vfio-pci), every endpoint on the allowlist, every SR-IOV PF
/// with a rule: the planner has work on most events.
func plannerContext(for graph: TopologyGraph) -> PlannerContext {
    var assignments: [Assignment] = []
    for group in graph.sortedGroups where group.number % 2 == 0 {
        let members = graph.members(ofGroup: group.number)
        assignments.append(Assignment(
            owner: "vm-\(group.number)", requested: [DeviceIdentity(members[0])],
            members: members.map { Assignment.Member(identity: DeviceIdentity($0), originalDriver: $0.driver,
                                                     originalOverride: nil, isBridge: $0.isBridge) },
            isolationDriver: "vfio-pci"))
    }
    var verdicts: [PCIAddress: DeviceVerdict] = [:]
    for device in graph.devices.values { verdicts[device.address] = DeviceVerdict(managedBy: "bench") }
    let rules = graph.devices.values.filter { ($0.sriov?.totalVFs ?? 0) > 0 }.map { SRIOVRule(pf: $0.address, numVFs: 4) }
    return PlannerContext(graph: graph, verdicts: VerdictTable(verdicts), assignments: AssignmentTable(assignments),
                          loadedDrivers: ["vfio-pci", "pcieport", "e1000e", "igb", "nvme", "ixgbe"],
                          sriovRules: Dictionary(uniqueKeysWithValues: rules.map { ($0.pf, $0) }))
}

// MARK: Run

let root = SysfsRoot(directory)

/// Decode + apply + plan, timed per event; only this is on the clock.
struct EventPath {
    var context: PlannerContext
    var perEvent: [UInt64] = []
    var decodeNs: UInt64 = 0, applyNs: UInt64 = 0, planNs: UInt64 = 0
    var plans = 0, refused = 0, decodeErrors = 0, changed = 0
    var byAction: [String: (count: Int, apply: UInt64, plan: UInt64, times: [UInt64])] = [:]

    mutating func handle(_ properties: [String: String]) {
        let t0 = now()
        let event: DeviceEvent
        do { event = try UeventDecoder.decode(properties) } catch { decodeErrors += 1; return }
        let t1 = now()
        let change = context.graph.apply(event, reading: root)
        if !change.isEmpty { changed += 1 }
        let t2 = now()
        var candidates = [event.address]
        if let group = context.graph.devices[event.address]?.iommuGroup, let members = context.graph.groups[group]?.members {
            candidates += members
        }
        var seen = Set<PCIAddress>()
        for address in candidates where seen.insert(address).inserted {
            if let plan = Planner.enforce(address, in: context) {
                plans += 1
                if plan.isRefused { refused += 1 }
            }
        }
        let t3 = now()
        decodeNs += t1 - t0; applyNs += t2 - t1; planNs += t3 - t2
        perEvent.append(t3 - t0)
        // In place (one access): a copy taken out of the dictionary would copy `times` on every append.
        func tally(_ entry: inout (count: Int, apply: UInt64, plan: UInt64, times: [UInt64])) {
            entry.count += 1; entry.apply += t2 - t1; entry.plan += t3 - t2; entry.times.append(t3 - t0)
        }
        tally(&byAction[event.action.rawValue, default: (0, 0, 0, [])])
    }

    mutating func report(_ title: String) {
        let count = perEvent.count
        let total = perEvent.reduce(0, +)
        perEvent.sort()
        func percentile(_ p: Double) -> Double { Double(perEvent[min(count - 1, Int(Double(count) * p))]) / 1000 }
        let timed = Double(decodeNs + applyNs + planNs)
        print("\(title): \(count) events (\(changed) changed the graph, \(plans) plans, \(refused) refused, \(decodeErrors) not decoded)")
        print(String(format: "  throughput: %.0f events/s (%.3f s on the clock, one thread)", Double(count) / (Double(total) / 1e9), Double(total) / 1e9))
        print(String(format: "  per event: median %.1f µs, p90 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs",
                     percentile(0.5), percentile(0.9), percentile(0.99), percentile(0.999), percentile(1)))
        print(String(format: "  split: decode %.1f%% (%.2f µs/event), graph apply %.1f%% (%.2f µs), planner %.1f%% (%.2f µs)",
                     100 * Double(decodeNs) / timed, Double(decodeNs) / Double(count) / 1000,
                     100 * Double(applyNs) / timed, Double(applyNs) / Double(count) / 1000,
                     100 * Double(planNs) / timed, Double(planNs) / Double(count) / 1000))
        for (action, entry) in byAction.sorted(by: { $0.key < $1.key }) {
            let times = entry.times.sorted()
            print(String(format: "  %@: %d events, median %.1f µs, p99 %.1f µs; apply %.1f µs, planner %.1f µs on average",
                         action, entry.count, Double(times[times.count / 2]) / 1000, Double(times[min(times.count - 1, times.count * 99 / 100)]) / 1000,
                         Double(entry.apply) / Double(entry.count) / 1000, Double(entry.plan) / Double(entry.count) / 1000))
        }
    }
}

let setupStart = now()
let tree: SysfsTree
do { tree = try buildTree(at: directory) } catch { print("cannot build the tree at \(directory): \(error)"); exit(1) }
let kernel = SimulatedKernel(tree: tree)
var graph = try TopologyGraph.scan(root: root)
print("tree: \(directory), \(graph.devices.count) devices in \(graph.groups.count) groups")

if mode == "events" {
    // Live: each happening's uevents go through the path right after the simulated kernel changed the tree
    // (as udev delivers them after the fact), so the graph really changes. Only the path is timed.
    let liveTarget = min(eventCount, options["--live"] ?? 20_000)
    var live = EventPath(context: plannerContext(for: graph))
    graph = TopologyGraph()
    let identities = live.context.graph
    let recorded = recordEvents(kernel: kernel, graph: identities, target: liveTarget) { batch in
        for event in batch { live.handle(properties(of: event, device: live.context.graph.devices[event.address] ?? identities.devices[event.address])) }
    }
    let counts = Dictionary(grouping: recorded, by: \.action.rawValue).mapValues(\.count)
    print("recorded: \(recorded.count) uevents in \(String(format: "%.1f", Double(now() - setupStart) / 1e9)) s of simulation "
          + "(\(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))")
    live.report("live (graph follows the simulated kernel)")
    // Replay: the recorded events, in a loop, against the tree as the happenings left it.
    let dictionaries = recorded.map { properties(of: $0, device: identities.devices[$0.address]) }
    var replay = EventPath(context: plannerContext(for: try TopologyGraph.scan(root: root)))
    replay.perEvent.reserveCapacity(eventCount)
    let rssBefore = residentKB()
    for index in 0..<eventCount { replay.handle(dictionaries[index % dictionaries.count]) }
    let rssAfter = residentKB()
    replay.report("replay (recorded events in a loop against the final tree)")
    print("rss: \(rssBefore.rss / 1024) MB before the replay, \(rssAfter.rss / 1024) MB after, peak \(rssAfter.peak / 1024) MB")
} else {
    let recorded = recordEvents(kernel: kernel, graph: graph, target: min(eventCount, 20_000))
    let dictionaries = recorded.map { properties(of: $0, device: graph.devices[$0.address]) }
    print("recorded: \(recorded.count) uevents")
    // The engine as the agent runs it, minus the journal: the simulated kernel is its writer (its record of
    // writes is drained as it goes, so only the engine can grow), every other group statically assigned.
    graph = TopologyGraph()
    let base = residentKB()
    let verdictGraph = try TopologyGraph.scan(root: root)
    let assigned = verdictGraph.sortedGroups.filter { $0.number % 2 == 0 && $0.number < groupCount }
        .map { Engine.StaticAssignment(devices: [$0.members[0]], owner: "vm-\($0.number)", rule: "bench") }
    let engine = try Engine(Engine.Configuration(
        root: root, writer: kernel, verdicts: { graph in
            VerdictTable(Dictionary(uniqueKeysWithValues: graph.devices.keys.map { ($0, DeviceVerdict(managedBy: "bench")) }))
        }, staticAssignments: assigned, stepTimeout: .seconds(2)))
    let startReport = await engine.start(version: "bench")
    _ = kernel.takeWrites(); _ = kernel.takeEmittedEvents()
    let afterScan = residentKB()
    print("rss: \(base.rss / 1024) MB before the engine; after Engine.start (scan, \(assigned.count) static assignments, "
          + "\(startReport.actions.count) plans executed): \(afterScan.rss / 1024) MB")
    var samples: [(Int, Int)] = []
    let started = now()
    var actions = 0
    for index in 0..<eventCount {
        guard let event = try? UeventDecoder.decode(dictionaries[index % dictionaries.count]) else { continue }
        let report = await engine.handle(.device(event))
        actions += report.actions.count
        if index % 1000 == 999 { _ = kernel.takeWrites(); _ = kernel.takeEmittedEvents() }
        if (index + 1) % (eventCount / 10) == 0 {
            let rss = residentKB().rss
            samples.append((index + 1, rss))
            print(String(format: "after %7d events: rss %.1f MB (%.0f events/s so far, %d plans executed)",
                         index + 1, Double(rss) / 1024, Double(index + 1) / (Double(now() - started) / 1e9), actions))
            fflush(nil)
        }
    }
    let final = residentKB()
    let growth = Double(samples.last!.1 - samples[0].1) / 1024
    print(String(format: "memory: after scan %.1f MB, after %d events %.1f MB (growth from the first sample %.1f MB), peak %.1f MB",
                 Double(afterScan.rss) / 1024, eventCount, Double(final.rss) / 1024, growth, Double(final.peak) / 1024))
}
