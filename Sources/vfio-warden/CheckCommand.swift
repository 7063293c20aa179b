import Agent
import ArgumentParser
import Enforcement
import Policy
import Reports
import Sysfs
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// `vfio-warden check [ADDRESS]`: per group, whether it could be given to a guest, from host use and policy.
/// `vfio-warden check --policy FILE --validate-only`: validates a policy file.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Show which IOMMU groups could be assigned to a guest, and what blocks the others.",
        discussion: """
            For every member of every group (or of ADDRESS's group): whether the host uses it (mounted \
            filesystems, swap, RAID/LVM, ZFS and btrfs members, NVMe namespaces behind a subsystem, disks held \
            open exclusively, mounts of other mount namespaces, network interfaces that are up or carry addresses \
            or routes or were moved into another network namespace, the boot VGA, the console and the only \
            keyboard, bridges above any of these; docs/host-use.md), and what the policy says (managed, protected, outside the \
            allowlist, naming the rule). A group is blocked when any member is in host use, protected, outside \
            the allowlist, or has an iommu_group link that cannot be read (its group's membership is unsure; the \
            agent refuses to assign it too).

            Every [[sriov]] rule is run through the agent's planner: a rule its gates refuse (the PF is not the \
            device the rule names, is outside [manage] without manage_pf = true, is protected, its group is assigned \
            by an [[assign]], the PF or a VF is in host use, the policy is monitor-only, or the PF cannot take the \
            VF count) is listed with the reasons: the agent would write nothing for it. With ADDRESS, only the \
            rules whose PF is in that device's group. JSON: "sriov", one object a \
            rule (rule, pf, numvfs, refused, reasons).

            With --validate-only (or `vfio-warden policy check FILE`, which prints the same), only the policy file \
            is read: its errors are printed as FILE:LINE:COLUMN: PATH: MESSAGE. Without it, the policy is also \
            checked against the devices: an [[assign]] whose device, or a member of its IOMMU group, is protected \
            is reported with both lines.

            A policy file (or a directory above it) that anyone but root could write, or that another user owns, \
            is named in a warning; the agent, and assign and release run as root, refuse it.

            Exit status: 0 when every group checked could be assigned (with --validate-only: the policy is valid); \
            1 when the check could not be made (sysfs unreadable, no such device); 2 when at least one group \
            checked is blocked (with ADDRESS: that device's group) or an [[sriov]] rule is refused; 3 when the policy file is invalid or cannot be \
            read, or an [[assign]] names a protected group; 64 for a usage error. A script that wants to know \
            whether a device may be given to a guest: `vfio-warden check ADDRESS >/dev/null; [ $? -eq 0 ]`.

            A missing default policy (/etc/vfio-warden/policy.toml) means monitor-only; a missing file named \
            with --policy is an error.

            When --sysfs-root is a snapshot of another host, point --proc-root at a copy of that host's /proc \
            files (self/mountinfo, swaps, net/route, net/ipv6_route, net/if_inet6, net/fib_trie, cmdline): host use \
            joins the two. An unreadable mountinfo or swaps makes every disk controller count as in use. udev's \
            database (/run/udev/data) and exclusive opens of /dev are used only when --sysfs-root is /sys and \
            --proc-root is /proc.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("proc-root"), help: ArgumentHelp(
        "The directory that plays the role of /proc (mountinfo, swaps, net/*); default /proc, or for another "
            + "--sysfs-root D/sys the proc/ beside it (D/proc), never the machine's own.", valueName: "dir"))
    var procRoot: String?

    @Option(name: .customLong("policy"), help: ArgumentHelp(
        "The policy file (default \(Policy.defaultPath)).", valueName: "file"))
    var policyPath: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Flag(name: .customLong("validate-only"), help: "Only validate the policy file; exit 3 when it has errors.")
    var validateOnly = false

    @Argument(help: ArgumentHelp("Check only the group of this PCI device.", valueName: "address"))
    var address: String?

    func validate() throws {
        if let address {
            do { _ = try PCIAddress.parse(address) } catch { throw ValidationError(error.description) }
        }
        if validateOnly && address != nil { throw ValidationError("--validate-only checks the policy file only; drop ADDRESS") }
    }

    /// What the exit status says (documented in the discussion, the man page and the README).
    enum Status {
        /// Every group checked could be assigned; with --validate-only, the policy is valid.
        static let allClear: Int32 = 0
        /// The check could not be made: sysfs unreadable, no such device (any ``CommandFailure``).
        static let failed: Int32 = 1
        /// At least one group checked is blocked, or an `[[sriov]]` rule is refused by the planner's gates.
        static let blocked: Int32 = 2
        /// The policy file is invalid or cannot be read, or an [[assign]] names a protected group.
        static let policyError: Int32 = 3
    }

    func run() throws {
        if validateOnly { return try PolicyValidation.run(path: policyPath, json: json) }
        let policy: Policy
        do {
            policy = try Self.loadPolicy(path: policyPath)
        } catch {
            StandardError.write(error.description + "\n")
            throw ExitCode(Status.policyError)
        }
        if let problem = PolicyTrust.problem(path: policyPath) { StandardError.write("warning: \(problem)\n") }
        let root = try global.resolvedRoot()
        let proc = StateLocations.proc(given: procRoot, sysfsRoot: global.sysfsRoot)
        if let warning = proc.warning { StandardError.write("warning: \(warning)\n") }
        let report = try Self.report(sysfs: root.root, proc: SysfsRoot(proc.path), policy: policy,
                                     address: address.map { try PCIAddress.parse($0) })
        if json {
            StandardOutput.write(try JSONRendering.encode(report))
        } else {
            StandardOutput.write(Self.render(report))
        }
        let status = Self.exitStatus(report)
        if status != Status.allClear { throw ExitCode(status) }
    }

    /// The exit status of a report: a policy conflict first, then a blocked group or a refused `[[sriov]]` rule.
    static func exitStatus(_ report: Report) -> Int32 {
        if !report.policyConflicts.isEmpty { return Status.policyError }
        if report.groups.contains(where: \.blocked) || report.sriov.contains(where: \.refused) { return Status.blocked }
        return Status.allClear
    }

    /// The policy at `path`; with no path, the default file, or monitor-only when the default file does not exist.
    static func loadPolicy(path: String?) throws(PolicyErrors) -> Policy {
        if let path { return try Policy.load(path: path) }
        guard access(Policy.defaultPath, F_OK) == 0 else { return .monitorOnly(file: "\(Policy.defaultPath) (absent)") }
        return try Policy.load(path: Policy.defaultPath)
    }

    static func summary(_ policy: Policy) -> String {
        if policy.isMonitorOnly && policy.protect.isEmpty && policy.assignments.isEmpty && policy.sriov.isEmpty {
            return "monitor-only, no rules"
        }
        let allowlist = policy.isMonitorOnly ? "monitor-only (no allowlist)" : "\(policy.manage.count) allowlist rule(s)"
        return "\(allowlist), \(policy.protect.count) protect rule(s), \(policy.assignments.count) assignment(s), "
            + "\(policy.sriov.count) SR-IOV rule(s)"
    }

    /// What `check` prints, as a value (also its JSON).
    struct Report: Encodable {
        struct PolicySummary: Encodable {
            var file: String
            var monitorOnly: Bool
            var summary: String
            enum CodingKeys: String, CodingKey { case file, summary, monitorOnly = "monitor_only" }
        }
        var policy: PolicySummary
        var groups: [GroupCheck]
        /// Files the host-use analysis could not read.
        var problems: [String]
        /// Errors only the tree shows: an [[assign]] that would take a protected device (FILE:LINE:COLUMN: ...).
        var policyConflicts: [String] = []
        /// Every `[[sriov]]` rule of the policy, and whether the planner's gates let it write.
        var sriov: [SRIOVCheck] = []

        enum CodingKeys: String, CodingKey {
            case policy, groups, problems, sriov
            case policyConflicts = "policy_conflicts"
        }
    }

    /// One `[[sriov]]` rule as `check` shows it: what ``Planner/sriov(_:in:)`` would refuse now (its gates: the
    /// PF's identity, `[manage]` or `manage_pf = true`, not protected, group not assigned by an `[[assign]]`, no host
    /// use on the PF or its VFs, not monitor-only; and the PF's own state). A refused rule writes nothing.
    struct SRIOVCheck: Encodable {
        var rule: String
        var pf: PCIAddress
        var numVFs: Int
        var refused: Bool
        /// The planner's refusals, `ADDRESS: reason`; empty when the rule may write.
        var reasons: [String]
        enum CodingKeys: String, CodingKey { case rule, pf, refused, reasons, numVFs = "numvfs" }
    }

    /// Runs each `[[sriov]]` rule through the planner against `graph`, with the verdicts the agent would plan with
    /// (``PolicyBinding``) and the `[[assign]]` rules standing for the assignments they make.
    static func sriovChecks(policy: Policy, graph: TopologyGraph, sysfs: SysfsRoot, proc: SysfsRoot) -> [SRIOVCheck] {
        guard !policy.sriov.isEmpty else { return [] }
        let binding = PolicyBinding(policy: policy, sysfs: sysfs, proc: proc)
        let assignments = binding.staticAssignments(in: graph).map { rule in
            let members = rule.devices.compactMap { graph.devices[$0] }.map {
                Enforcement.Assignment.Member(identity: DeviceIdentity($0), originalDriver: $0.driver, originalOverride: $0.driverOverride,
                                  isBridge: $0.isBridge)
            }
            return Enforcement.Assignment(owner: rule.owner, requested: members.map(\.identity), members: members, isolationDriver: "vfio-pci")
        }
        let rules = binding.sriovRules
        let context = PlannerContext(graph: graph, verdicts: binding.verdicts(for: graph),
                                     assignments: AssignmentTable(assignments), loadedDrivers: [],
                                     sriovRules: Dictionary(rules.map { ($0.pf, $0) }, uniquingKeysWith: { $1 }))
        return zip(policy.sriov, rules).map { written, rule in
            let plan = Planner.sriov(rule, in: context)
            let position = written.position.map { ", line \($0.line)" } ?? ""
            return SRIOVCheck(rule: "\(written.path) (\(rule.pf)\(position))", pf: rule.pf, numVFs: rule.numVFs,
                              refused: plan.isRefused, reasons: plan.refusals.map(\.description))
        }
    }

    static func report(sysfs: SysfsRoot, proc: SysfsRoot, policy: Policy, address: PCIAddress?) throws -> Report {
        let graph = try scanGraph(sysfs)
        let hostUse = HostUseAnalysis.analyse(graph: graph, sysfs: sysfs, proc: proc, options: policy.hostUse)
        var serials: [PCIAddress: String] = [:]
        for device in graph.devices.keys {
            if let serial = PCISerialNumber.read(device, root: sysfs) { serials[device] = serial }
        }
        let groups: [GroupCheck]
        if let address {
            guard let group = GroupAssessment.check(device: address, graph: graph, hostUse: hostUse, policy: policy,
                                                    serials: serials) else {
                throw CommandFailure("no PCI device \(address) under sysfs root \(sysfs)")
            }
            groups = [group]
        } else {
            groups = GroupAssessment.check(graph: graph, hostUse: hostUse, policy: policy, serials: serials)
        }
        return Report(policy: .init(file: policy.file, monitorOnly: policy.isMonitorOnly, summary: summary(policy)),
                      groups: groups, problems: hostUse.problems,
                      policyConflicts: policy.protectedAssignments(in: graph, serials: serials).map(\.description),
                      sriov: sriovChecks(policy: policy, graph: graph, sysfs: sysfs, proc: proc).filter { rule in
                          // With ADDRESS, only the rules whose PF is in that device's group.
                          address == nil || groups.contains { $0.members.contains { $0.address == rule.pf } }
                      })
    }

    /// The text of `check`. Every value from sysfs, /proc or the policy goes through ``escapedForTerminal(_:)``.
    static func render(_ report: Report) -> String {
        let e = escapedForTerminal
        var out = "Policy: \(e(report.policy.file)): \(report.policy.summary)\n"
        for group in report.groups {
            let name = group.group.map { "Group \($0)" } ?? "No IOMMU group"
            var heading = "\n\(name): \(group.blocked ? "BLOCKED" : "could be assigned")"
            if let owner = group.assignedTo { heading += " (assigned to \(e(owner)) by policy)" }
            out += heading + "\n"
            for member in group.members {
                let columns = [member.address.description, member.ids ?? "????:????", member.className ?? "unknown class",
                               member.driver.map { "driver \($0)" } ?? "no driver"]
                out += "  \(e(columns.joined(separator: "  ")))\n"
                if member.hostUse.safe {
                    out += "      host use: not in use by the host\n"
                } else {
                    out += "      host use: IN USE\n"
                    for reason in member.hostUse.reasons { out += "        - \(e(reason.message))\n" }
                }
                out += "      policy:   \(e(member.policyDetail))\n"
            }
            if group.blocked {
                out += "  Blocked because:\n" + group.reasons.map { "    - \(e($0))\n" }.joined()
            }
        }
        if !report.sriov.isEmpty {
            out += "\nSR-IOV rules:\n"
            for rule in report.sriov {
                out += "  \(e(rule.rule)): \(rule.numVFs) VFs: \(rule.refused ? "REFUSED, writes nothing" : "passes the gates")\n"
                out += rule.reasons.map { "    - \(e($0))\n" }.joined()
            }
        }
        if !report.policyConflicts.isEmpty {
            out += "\nPolicy errors (the policy contradicts itself on these devices):\n"
                + report.policyConflicts.map { "  \($0)\n" }.joined()
        }
        if !report.problems.isEmpty {
            out += "\nCould not read (host use is judged without them):\n" + report.problems.map { "  \(e($0))\n" }.joined()
        }
        return out
    }
}
