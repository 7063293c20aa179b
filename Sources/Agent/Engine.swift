import Enforcement
import Journal
import Sysfs
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// The agent's core: the live graph, the assignments, the planner and the executor, fed by one event stream.
///
/// Data flows one way: event → graph update → planner → journal (intent, durable) → executor (writes,
/// verification) → journal (outcome) → graph. One actor, so events, requests and resyncs never interleave.
public actor Engine {
    public struct Configuration: Sendable {
        public var root: SysfsRoot
        /// Where writes go: the sysfs root itself on a host, the simulated kernel in tests and `simulate`.
        public var writer: any SysfsAttributeWriter
        public var journal: JournalWriter?
        public var store: AssignmentStore?
        /// The policy and host-use verdicts for a graph (recomputed when the graph changes).
        public var verdicts: @Sendable (TopologyGraph) -> VerdictTable
        public var sriovRules: [SRIOVRule]
        /// `[[assign]]` rules: devices and their owner, applied at start.
        public var staticAssignments: [StaticAssignment]
        public var stepTimeout: Duration
        /// Host use of the given devices only, read now: asked at planning time for every device an enforcement or
        /// `[[sriov]]` plan is about to write (the cached verdicts may be older than the host's use of it). `nil`:
        /// taken from a fresh ``verdicts`` call.
        public var hostUse: (@Sendable (TopologyGraph, Set<PCIAddress>) -> [PCIAddress: [String]])?
        /// When a fight with another tool over a device counts as flapping, and how far repairs back off.
        public var flapping: FlapDetector.Settings
        /// Monotonic time for the flap detector (tests inject their own).
        public var now: @Sendable () -> Duration
        /// Runs `wake` after `delay` (a deferred repair); tests inject their own. `nil`: a task that sleeps.
        public var scheduleWakeUp: (@Sendable (Duration, @escaping @Sendable () async -> Void) -> Void)?

        public init(root: SysfsRoot, writer: any SysfsAttributeWriter, journal: JournalWriter? = nil, store: AssignmentStore? = nil,
                    verdicts: @escaping @Sendable (TopologyGraph) -> VerdictTable, sriovRules: [SRIOVRule] = [],
                    staticAssignments: [StaticAssignment] = [], stepTimeout: Duration = .seconds(10),
                    hostUse: (@Sendable (TopologyGraph, Set<PCIAddress>) -> [PCIAddress: [String]])? = nil,
                    flapping: FlapDetector.Settings = FlapDetector.Settings(),
                    now: @escaping @Sendable () -> Duration = { ContinuousClock.now - Engine.clockOrigin },
                    scheduleWakeUp: (@Sendable (Duration, @escaping @Sendable () async -> Void) -> Void)? = nil) {
            self.root = root
            self.writer = writer
            self.journal = journal
            self.store = store
            self.verdicts = verdicts
            self.sriovRules = sriovRules
            self.staticAssignments = staticAssignments
            self.stepTimeout = stepTimeout
            self.hostUse = hostUse
            self.flapping = flapping
            self.now = now
            self.scheduleWakeUp = scheduleWakeUp
        }
    }

    /// The origin of the default monotonic clock.
    public static let clockOrigin = ContinuousClock.now

    public struct StaticAssignment: Sendable, Hashable {
        public var devices: [PCIAddress]
        public var owner: String
        public var rule: String
        public init(devices: [PCIAddress], owner: String, rule: String) {
            self.devices = devices
            self.owner = owner
            self.rule = rule
        }
    }

    /// What the engine did about one trigger (an event, a request, a resync).
    public struct Report: Sendable {
        public var event: MonitorEvent?
        public var change = GraphChange()
        /// Plans carried out (or refused) and their results.
        public var actions: [(plan: Plan, result: ExecutionResult)] = []
        /// Group state transitions: group number, from, to, reasons.
        public var states: [(group: Int, from: GroupStatus.State?, to: GroupStatus)] = []
        /// Time from the trigger to the end of the last action.
        public var durationNanoseconds: UInt64 = 0
        /// Problems that stopped nothing but that an operator should see (a journal write that failed...).
        public var notes: [String] = []
        /// Records that could not be made durable (a full or failing journal disk), in words: a lost outcome,
        /// which a one-shot command turns into a non-zero exit.
        public var unrecorded: [String] = []
    }

    /// Swapped only by ``reload(verdicts:sriovRules:staticAssignments:cause:)`` (SIGHUP).
    public private(set) var configuration: Configuration
    public private(set) var graph: TopologyGraph {
        didSet { graphGeneration &+= 1 }
    }
    /// Counts every change made to ``graph`` (an event applied, a rescan), so a cached read-only analysis knows its age.
    private var graphGeneration: UInt64 = 0
    public private(set) var assignments: AssignmentTable
    private var states: [Int: GroupStatus.State] = [:]
    /// Verdicts for the current device set; host-use analysis reads many files, so it is redone only when
    /// devices come or go, at a resync, and before a user request.
    private var verdictCache: VerdictTable?
    private var nextPlanID: UInt64 = 1
    /// Set while the journal refuses records (a full or failing disk), with when it began and what was lost;
    /// cleared by ``healJournal(cause:)`` once a record is durable again.
    private(set) var journalOutage: JournalOutage?
    var isHealingJournal = false
    func clearJournalOutage() { journalOutage = nil }
    /// `kernel/uevent_seqnum` read just before the last resync's scan: events up to it are in that scan. After an
    /// overflow the receive queue still holds events from before the loss, and they arrive after the resync; their
    /// action may be out of date (a `remove` of a VF that was created again since), so they are only re-read.
    private var resyncedThroughSeqnum: UInt64?
    /// Devices another tool keeps taking back.
    private var flaps: FlapDetector
    /// Repairs deferred by a flapping back-off: device → when it may be repaired.
    private var deferredRepairs: [PCIAddress: Duration] = [:]
    /// The last enforcement refusal journaled per device, so that a standing refusal is journaled once.
    private var journaledRefusals: [PCIAddress: [String]] = [:]
    /// The analysis shared by read-only `plan` requests in flight (one at a time, off the actor).
    private var readOnlyAnalysis: (graph: TopologyGraph, task: Task<VerdictTable, Never>)?
    /// The last read-only analysis, reused by `plan` requests while the graph is unchanged and it is younger than
    /// ``readOnlyAnalysisLifetime``.
    private var lastReadOnlyAnalysis: (generation: UInt64, at: Duration, graph: TopologyGraph, verdicts: VerdictTable)?
    /// How long a read-only analysis serves `plan` requests (host use can change without any device event).
    static let readOnlyAnalysisLifetime: Duration = .seconds(1)

    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        flaps = FlapDetector(settings: configuration.flapping)
        graph = try TopologyGraph.scan(root: configuration.root)
        assignments = try configuration.store?.load() ?? AssignmentTable()
        // Plan numbers never repeat in a journal, across processes too (a crash recovery's plan beside the plan it
        // finishes, an assign and a later release): they start after the journal's last sequence number, which grows
        // by at least one (action_planned) per plan carried out.
        nextPlanID = (configuration.journal?.lastSequence ?? 0) + 1
    }

    /// The planner's view now.
    public func context() -> PlannerContext { context(loadedDrivers: listLoadedDrivers()) }

    /// The drivers registered with the PCI bus: the directories under `bus/pci/drivers`, listed afresh. Not
    /// cached across events: sysfs (kernfs) does not move a directory's mtime when a driver registers, so a
    /// module loaded since would go unseen; within one event, one listing serves every plan.
    private func listLoadedDrivers() -> Set<String> {
        Set((try? configuration.root.list(PCIPaths.drivers)) ?? [])
    }

    private func context(loadedDrivers loaded: Set<String>) -> PlannerContext {
        let verdicts = verdictCache ?? configuration.verdicts(graph)
        verdictCache = verdicts
        return PlannerContext(graph: graph, verdicts: verdicts, assignments: assignments,
                              loadedDrivers: loaded, sriovRules: Dictionary(configuration.sriovRules.map { ($0.pf, $0) }, uniquingKeysWith: { $1 }))
    }

    /// `context` with host use of `addresses` read now (``Configuration/hostUse``), also kept in the cache: what
    /// every plan that writes is planned against (DESIGN.md, "The gates").
    private func refreshingHostUse(of addresses: Set<PCIAddress>, in context: PlannerContext) -> PlannerContext {
        guard !addresses.isEmpty else { return context }
        let fresh: [PCIAddress: [String]]
        if let hostUse = configuration.hostUse {
            fresh = hostUse(graph, addresses)
        } else {
            let verdicts = configuration.verdicts(graph)
            fresh = Dictionary(uniqueKeysWithValues: addresses.map { ($0, verdicts[$0].hostUse) })
        }
        var context = context
        for address in addresses {
            var verdict = context.verdicts[address]
            verdict.hostUse = fresh[address] ?? []
            context.verdicts.verdicts[address] = verdict
            verdictCache?.verdicts[address] = verdict
        }
        return context
    }

    /// An enforcement plan for `address`, planned twice when it writes: first against the cached verdicts (most
    /// events need nothing), then against host use read now for the devices it writes.
    private func planEnforcement(_ address: PCIAddress, loadedDrivers: Set<String>) -> Plan? {
        let cached = context(loadedDrivers: loadedDrivers)
        guard let plan = Planner.enforce(address, in: cached) else { return nil }
        guard !plan.steps.isEmpty, !plan.isRefused else { return plan }
        return Planner.enforce(address, in: refreshingHostUse(of: Set(plan.steps.map(\.address)), in: cached))
    }

    /// Every group's state now.
    public func statuses() -> [GroupStatus] { GroupStatus.all(in: context()) }

    /// Devices in a flapping episode now (another tool keeps taking them back): what `status` shows.
    public func flappingDevices() -> [FlapDetector.Episode] { flaps.episodes(at: configuration.now()) }

    // MARK: Start and resync

    /// Start-up reconciliation: journal the start, apply `[[sriov]]` and `[[assign]]` rules, then enforce every
    /// assignment and rule against sysfs as it is.
    public func start(version: String) async -> Report {
        var report = Report()
        await record(.agentStarted(AgentStarted(version: version, pid: getpid())), cause: .agent("start"), into: &report)
        let clock = ContinuousClock()
        let started = clock.now
        report.merge(await applyPolicyRules(sriovCause: { .policy(rule: "sriov \($0.pf)") }, resyncCause: .agent("start")))
        report.durationNanoseconds = nanoseconds(clock.now - started)
        return report
    }

    /// Rescans sysfs (after `ENOBUFS`, at start, periodically) and enforces everything that is held.
    public func resync(cause: Cause = .resync()) async -> Report {
        var report = await healJournal()
        verdictCache = nil
        resyncedThroughSeqnum = (try? configuration.root.read(PCIPaths.ueventSeqnum)).flatMap { UInt64($0) }
        do {
            report.change = try graph.rescan(root: configuration.root)
        } catch {
            report.notes.append("resync could not scan \(configuration.root): \(error)")
            return report
        }
        await record(.agentResynced(AgentResynced(changes: report.change.devices.count,
                                                  summary: "\(report.change.devices.count) device changes found by a full scan")),
                     cause: cause, into: &report)
        // The cache was dropped above: these plans see host use as it is now.
        for plan in Planner.enforceAll(in: context()) {
            await enforce(plan, cause: cause, into: &report)
        }
        await updateStates(nil, into: &report, cause: cause)
        return report
    }

    // MARK: Policy reload

    /// Replaces the policy binding (SIGHUP): the verdicts, the `[[sriov]]` rules and the `[[assign]]` rules.
    /// Assignments held stay held; the new rules are applied and every assignment enforced again, as at start.
    /// The caller journals `policy_loaded` (it knows the file and its hash).
    public func reload(verdicts: @escaping @Sendable (TopologyGraph) -> VerdictTable, sriovRules: [SRIOVRule],
                       staticAssignments: [StaticAssignment], cause: Cause,
                       hostUse: (@Sendable (TopologyGraph, Set<PCIAddress>) -> [PCIAddress: [String]])? = nil) async -> Report {
        configuration.verdicts = verdicts
        configuration.hostUse = hostUse
        configuration.sriovRules = sriovRules
        configuration.staticAssignments = staticAssignments
        verdictCache = nil
        return await applyPolicyRules(sriovCause: { _ in cause }, resyncCause: cause)
    }

    /// Applies the `[[sriov]]` rules (each plan rescans the graph once carried out: see `execute`), then the
    /// `[[assign]]` rules, then enforces everything with a resync. What `start` and `reload` share.
    private func applyPolicyRules(sriovCause: (SRIOVRule) -> Cause, resyncCause: Cause) async -> Report {
        var report = Report()
        for rule in configuration.sriovRules {
            // Planned against the live graph, with the host use of the PF and its VFs read now.
            let cached = context()
            guard !Planner.sriov(rule, in: cached).steps.isEmpty else { continue }
            let vfs = graph.devices[rule.pf]?.virtfns ?? []
            let plan = Planner.sriov(rule, in: refreshingHostUse(of: Set([rule.pf] + vfs), in: cached))
            if plan.isRefused {
                await refuse(plan, cause: sriovCause(rule), into: &report)
                continue
            }
            await execute(plan, cause: sriovCause(rule), reason: "[[sriov]] rule for \(rule.pf)", into: &report)
            verdictCache = nil
        }
        for rule in configuration.staticAssignments {
            report.merge(await assign(rule.devices, owner: rule.owner, cause: .policy(rule: rule.rule)))
        }
        report.merge(await resync(cause: resyncCause))
        return report
    }

    // MARK: Events

    /// One event from the monitor: update the graph, and put back anything a host driver took from an
    /// assigned group.
    public func handle(_ event: MonitorEvent) async -> Report {
        let clock = ContinuousClock()
        let started = clock.now
        guard case .device(let device) = event else {
            var report = await resync(cause: .resync("the event stream overflowed (ENOBUFS): events were lost"))
            report.event = event
            return report
        }
        var report = await healJournal()
        report.event = event
        let cause = Cause.udev(seqnum: device.seqnum ?? 0, action: device.action.rawValue)
        let group = graph.devices[device.address]?.iommuGroup
        await record(.eventSeen(EventSeen(device: device.address, devpath: device.devpath ?? "", action: device.action.rawValue,
                                          seqnum: device.seqnum, driver: device.driver, group: group.map(groupRef))),
                     cause: cause, into: &report)
        var applied = device
        if let seqnum = device.seqnum, let through = resyncedThroughSeqnum, seqnum <= through { applied.action = .change }
        report.change = graph.apply(applied, reading: configuration.root)
        if report.change.devices.contains(where: { $0.kind != .changed }) { verdictCache = nil }
        var touched = Set(report.change.groups.map(\.group))
        for change in report.change.devices {
            if let group = graph.devices[change.address]?.iommuGroup { touched.insert(group) }
        }
        // The device itself, and any member of its group (a hot-plugged device joins an assigned group).
        let candidates = [device.address] + (graph.devices[device.address]?.iommuGroup.flatMap { graph.groups[$0]?.members } ?? [])
        var seen = Set<PCIAddress>()
        let loaded = listLoadedDrivers()
        for address in candidates where seen.insert(address).inserted {
            // A host driver can win the race against our probe (someone binding it by hand right after the unbind
            // we are reacting to): then it is a violation now, and the next plan unbinds it. A few rounds at most.
            for _ in 0..<3 {
                guard let plan = planEnforcement(address, loadedDrivers: loaded) else { break }
                let result = await enforce(plan, cause: cause, into: &report)
                guard result?.failure?.kind == .claimedMeanwhile else { break }
            }
        }
        await updateStates(touched, into: &report, cause: cause, loadedDrivers: loaded)
        report.durationNanoseconds = nanoseconds(clock.now - started)
        return report
    }

    // MARK: Requests

    /// Plans without carrying out: what `plan assign` prints. The host-use analysis such a plan needs runs off the
    /// actor, one at a time, shared by every `plan` request waiting for it: a loop of them (anyone in the read
    /// group may send them) never holds up enforcement, which plans on the actor between them.
    public func planAssign(_ addresses: [PCIAddress], owner: String, siblings: Planner.SiblingMode = .passthrough) async -> [Plan] {
        let (graph, verdicts) = await readOnlyVerdicts()
        let context = PlannerContext(graph: graph, verdicts: verdicts, assignments: assignments, loadedDrivers: listLoadedDrivers(),
                                     sriovRules: Dictionary(configuration.sriovRules.map { ($0.pf, $0) }, uniquingKeysWith: { $1 }))
        return Planner.assign(addresses, owner: owner, siblings: siblings, in: context).map(\.plan)
    }

    /// Verdicts for read-only plans: the last analysis while the graph is unchanged and it is under a second old,
    /// else the analysis in flight, else a new one started off the actor. A loop of `plan` requests thus costs at
    /// most one analysis a second, never on the actor.
    private func readOnlyVerdicts() async -> (TopologyGraph, VerdictTable) {
        let started = configuration.now()
        if let last = lastReadOnlyAnalysis, last.generation == graphGeneration,
           started - last.at < Self.readOnlyAnalysisLifetime {
            return (last.graph, last.verdicts)
        }
        if let running = readOnlyAnalysis { return (running.graph, await running.task.value) }
        let graph = self.graph
        let generation = graphGeneration
        let compute = configuration.verdicts
        let task = Task.detached { compute(graph) }
        readOnlyAnalysis = (graph, task)
        let verdicts = await task.value
        readOnlyAnalysis = nil
        lastReadOnlyAnalysis = (generation, started, graph, verdicts)
        return (graph, verdicts)
    }

    /// Isolates the whole group of each address for `owner`; nothing is written when any group is refused.
    /// `originals`: the drivers and overrides members had before an earlier, interrupted attempt changed them (crash
    /// recovery reads them from the journal); sysfs as it is now would remember the half-done state instead.
    public func assign(_ addresses: [PCIAddress], owner: String, siblings: Planner.SiblingMode = .passthrough, cause: Cause,
                       originals: [PCIAddress: (driver: String?, override: String?)] = [:]) async -> Report {
        var report = await healJournal()
        verdictCache = nil
        let planned = Planner.assign(addresses, owner: owner, siblings: siblings, in: context())
        if planned.contains(where: { $0.plan.isRefused }) {
            await refuseAll(planned.map(\.plan), cause: cause, into: &report)
            return report
        }
        for (plan, planned) in planned {
            guard var assignment = planned else { continue }
            assignment.members = assignment.members.map { member in
                guard let original = originals[member.identity.address] else { return member }
                var member = member
                member.originalDriver = original.driver
                member.originalOverride = original.override
                return member
            }
            // Held already, exactly so, and nothing to write: an idempotent repeat (a VM manager re-asserting its
            // assignment) neither journals a plan nor rewrites the store; a thousand of them at once would otherwise
            // queue a thousand fsyncs behind the serial gate.
            if plan.steps.isEmpty, assignments.assignments.contains(assignment) {
                report.actions.append((plan, ExecutionResult(outcome: .completed)))
                continue
            }
            let result = await execute(plan, cause: cause, reason: "assign to \(owner)", into: &report)
            guard result.outcome == .completed else { continue }
            assignments.assignments.removeAll { $0.members.map(\.identity) == assignment.members.map(\.identity) }
            assignments.assignments.append(assignment)
            persist(into: &report)
            await record(.assignmentMade(Journal.Assignment(owner: owner, group: groupRef(plan.group ?? -1),
                                                            originalDrivers: originalDrivers(assignment))),
                         cause: cause, into: &report)
        }
        await updateStates(Set(planned.compactMap(\.plan.group)), into: &report, cause: cause)
        return report
    }

    /// Returns groups to the drivers their members had.
    public func release(owner: String?, addresses: [PCIAddress], cause: Cause) async -> Report {
        var report = await healJournal()
        verdictCache = nil
        let planned = Planner.release(owner: owner, addresses: addresses, in: context())
        // One refused plan refuses the request: nothing is written (another owner's device named beside one's own).
        if planned.contains(where: { $0.plan.isRefused }) {
            await refuseAll(planned.map(\.plan), cause: cause, into: &report)
            return report
        }
        for (plan, remaining) in planned {
            guard let held = assignments.assignments.first(where: { $0.owner == plan.owner && plan.targets.allSatisfy($0.covers) }) else { continue }
            if let remaining {
                assignments.assignments = assignments.assignments.map { $0 == held ? remaining : $0 }
                persist(into: &report)
                report.actions.append((plan, ExecutionResult(outcome: .completed)))
                continue
            }
            let notices = plan.notices.map(\.description)
            let reason = "release from \(held.owner)" + (notices.isEmpty ? "" : "; " + notices.joined(separator: "; "))
            let result = await execute(plan, cause: cause, reason: reason, into: &report)
            // A member gone mid-release does not fail it (the executor gives the others back); a release that
            // failed and was rolled back into isolation keeps its assignment, so the group is not left on
            // vfio-pci with no owner.
            if result.outcome == .completed {
                assignments.assignments.removeAll { $0 == held }
                persist(into: &report)
                await record(.assignmentReleased(Journal.Assignment(owner: held.owner, group: groupRef(plan.group ?? -1),
                                                                    originalDrivers: originalDrivers(held))),
                             cause: cause, into: &report)
            }
        }
        await updateStates(Set(planned.compactMap(\.plan.group)), into: &report, cause: cause)
        return report
    }

    // MARK: Carrying out

    /// A violation: journal it, then carry out the fix (or journal why it may not be fixed).
    @discardableResult
    private func enforce(_ plan: Plan, cause: Cause, into report: inout Report) async -> ExecutionResult? {
        // A host driver holding the device is a violation; a new device that no driver holds yet only needs isolating.
        if let address = plan.targets.first, let device = graph.devices[address], let driver = device.driver,
           !GroupViability.isIsolatingDriver(driver) {
            await record(.violationDetected(Violation(group: groupRef(device.iommuGroup ?? -1), device: address,
                                                      driver: driver, owner: plan.owner)),
                         cause: cause, into: &report)
        }
        if plan.isRefused {
            // A standing refusal (a member in host use, another device at the address) is journaled once, not at
            // every event that finds it again.
            let reasons = plan.refusals.map(\.description)
            if let address = plan.targets.first, journaledRefusals[address] != reasons {
                journaledRefusals[address] = reasons
                await refuse(plan, cause: cause, into: &report)
            } else {
                report.actions.append((plan, ExecutionResult(outcome: .refused)))
            }
            return nil
        }
        if let address = plan.targets.first { journaledRefusals[address] = nil }
        // A fight with another tool over this device: count it, and back off once it is flapping.
        if let address = plan.targets.first, let device = graph.devices[address], let driver = device.driver,
           !GroupViability.isIsolatingDriver(driver) {
            switch flaps.fight(address, at: configuration.now()) {
            case .repair: break
            case .repairAndReportFlapping(let fights, let backoff):
                await record(.flapping(Flapping(device: address, group: groupRef(device.iommuGroup ?? -1), owner: plan.owner,
                                                driver: driver, fights: fights, windowSeconds: seconds(configuration.flapping.window),
                                                backoffSeconds: seconds(backoff))),
                             cause: cause, into: &report)
            case .deferUntil(let when):
                deferRepair(address, until: when)
                report.notes.append("\(address) is flapping: its repair waits \(seconds(when - configuration.now())) s")
                return nil
            }
        }
        // The journal says what happened, as the console does (ReportText): a host driver's claim put right, or a
        // new device (a VF, a hot-plugged function) that no driver holds isolated before any host driver claims it.
        let targets = plan.targets.map(\.description).joined(separator: ", ")
        let unbinds = plan.steps.contains { if case .unbind = $0.action { return true } else { return false } }
        let reason = unbinds ? "enforce: \(targets) claimed by a host driver" : "isolate \(targets) before any host driver claims it"
        return await execute(plan, cause: cause, reason: reason, into: &report)
    }

    /// Journals a plan refused before any write (`plan_refused`) and reports it.
    private func refuse(_ plan: Plan, cause: Cause, into report: inout Report) async {
        await record(.planRefused(PlanRefused(kind: plan.kind.rawValue, group: plan.group.map { groupRef($0) }, owner: plan.owner,
                                              targets: plan.targets, reasons: plan.refusals.map(\.description))),
                     cause: cause, into: &report)
        report.actions.append((plan, ExecutionResult(outcome: .refused)))
    }

    /// A request one of whose plans is refused: the refused plans are journaled (``refuse(_:cause:into:)``), the
    /// others reported as refused with them, and nothing is written (assign and release alike).
    private func refuseAll(_ plans: [Plan], cause: Cause, into report: inout Report) async {
        for plan in plans {
            if plan.isRefused { await refuse(plan, cause: cause, into: &report) } else {
                report.actions.append((plan, ExecutionResult(outcome: .refused)))
            }
        }
    }

    /// Remembers a repair a flapping back-off put off, and asks to be woken when it is due.
    private func deferRepair(_ address: PCIAddress, until when: Duration) {
        let alreadyScheduled = deferredRepairs[address] != nil
        deferredRepairs[address] = when
        guard !alreadyScheduled else { return }
        let delay = max(when - configuration.now(), .zero)
        let wake: @Sendable () async -> Void = { [weak self] in _ = await self?.repairDeferred() }
        if let schedule = configuration.scheduleWakeUp {
            schedule(delay, wake)
        } else {
            Task {
                try? await Task.sleep(for: delay)
                await wake()
            }
        }
    }

    /// Carries out the repairs whose flapping back-off is over (the wake-up ``deferRepair`` scheduled calls it).
    @discardableResult
    public func repairDeferred() async -> Report {
        var report = Report()
        let now = configuration.now()
        let due = deferredRepairs.filter { $0.value <= now }.keys.sorted()
        let loaded = listLoadedDrivers()
        for address in due {
            deferredRepairs[address] = nil
            _ = graph.apply(DeviceEvent(action: .change, address: address), reading: configuration.root)
            guard let plan = planEnforcement(address, loadedDrivers: loaded) else { continue }
            await enforce(plan, cause: .agent("repair of \(address) after its flapping back-off"), into: &report)
        }
        for (address, when) in deferredRepairs where when > now {
            deferredRepairs[address] = nil
            deferRepair(address, until: when)
        }
        let groups = Set(due.compactMap { graph.devices[$0]?.iommuGroup })
        await updateStates(groups, into: &report, cause: .agent("flapping back-off"), loadedDrivers: loaded)
        return report
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @discardableResult
    func execute(_ plan: Plan, cause: Cause, reason: String, kind: PlanKind? = nil, into report: inout Report) async -> ExecutionResult {
        // Unique for the journal's life (ids of earlier runs are below its last seq), so recovery and `journal
        // verify` can match a plan's records across runs.
        let planID = max(nextPlanID, (configuration.journal?.lastSequence ?? 0) + 1)
        nextPlanID = planID + 1
        var executor = Executor(root: configuration.root, writer: configuration.writer)
        executor.stepTimeout = configuration.stepTimeout
        let result: ExecutionResult
        if let journal = configuration.journal {
            let observer = JournalObserver(journal: journal, planID: planID, kind: kind ?? PlanKind(plan.kind),
                                           group: groupRef(plan.group ?? -1), cause: cause, reason: reason)
            result = await executor.run(plan, observer: observer)
            let lost = observer.lost
            if !lost.isEmpty {
                report.notes.append("journal: plan \(planID) (\(reason)): \(lost.count) record\(lost.count == 1 ? "" : "s") could not be made durable")
                noteUnrecorded(lost, into: &report)
            }
        } else {
            result = await executor.run(plan)
        }
        report.actions.append((plan, result))
        // Re-read what the plan touched, so the next decision sees sysfs as it is now.
        for address in Set(plan.steps.map(\.address) + result.rollback.map(\.step.address)) {
            let change = graph.apply(DeviceEvent(action: .change, address: address), reading: configuration.root)
            report.change.devices += change.devices
            report.change.groups += change.groups
        }
        if plan.kind == .sriov { _ = try? graph.rescan(root: configuration.root) }
        return result
    }

    // MARK: State and journal

    private func updateStates(_ groups: Set<Int>?, into report: inout Report, cause: Cause, loadedDrivers: Set<String>? = nil) async {
        let context = context(loadedDrivers: loadedDrivers ?? listLoadedDrivers())
        let numbers = groups.map { Array($0).sorted() } ?? context.graph.sortedGroups.map(\.number)
        for number in numbers {
            guard context.graph.groups[number] != nil else {
                states[number] = nil
                continue
            }
            let status = GroupStatus.of(group: number, in: context)
            let previous = states[number]
            guard previous != status.state else { continue }
            states[number] = status.state
            report.states.append((number, previous, status))
            let change = GroupStateChange(group: groupRef(number), from: previous.flatMap { GroupState(rawValue: $0.rawValue) },
                                          to: GroupState(rawValue: status.state.rawValue) ?? .host,
                                          reason: status.summary, owner: status.owner)
            await record(.groupStateChanged(change), cause: cause, into: &report)
        }
    }

    func record(_ event: JournalEvent, cause: Cause, into report: inout Report) async {
        guard let journal = configuration.journal else { return }
        do {
            try await journal.append(event, cause: cause)
        } catch {
            report.notes.append("journal: \(error)")
            noteUnrecorded([StoryRenderer.sentence(for: JournalRecord(seq: 0, realtimeMicros: 0, monotonicNanos: 0, host: "",
                                                                      cause: cause, event: event, prev: "")) + " (\(error))"],
                           into: &report)
        }
    }

    /// Records lost to a journal that refuses writes: in the report, and in the outage ``healJournal(cause:)`` ends.
    private func noteUnrecorded(_ lost: [String], into report: inout Report) {
        report.unrecorded += lost
        var outage = journalOutage ?? JournalOutage(sinceMicros: JournalOutage.nowMicros())
        outage.lost += lost.count
        if outage.examples.count < JournalOutage.examplesKept {
            outage.examples += lost.prefix(JournalOutage.examplesKept - outage.examples.count)
        }
        journalOutage = outage
    }

    private func persist(into report: inout Report) {
        guard let store = configuration.store else { return }
        do { try store.save(assignments) } catch { report.notes.append("\(error)") }
    }

    private func groupRef(_ number: Int) -> GroupRef {
        GroupRef(devices: graph.groups[number]?.members ?? [], number: number >= 0 ? number : nil)
    }

    private func originalDrivers(_ assignment: Enforcement.Assignment) -> [String: String] {
        var drivers: [String: String] = [:]
        for member in assignment.members { drivers[member.identity.address.description] = member.originalDriver ?? "none" }
        return drivers
    }

    private func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
    }
}

extension Engine.Report {
    mutating func merge(_ other: Engine.Report) {
        change.devices += other.change.devices
        change.groups += other.change.groups
        actions += other.actions
        states += other.states
        notes += other.notes
    }
}
