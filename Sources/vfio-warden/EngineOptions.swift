import Agent
import ArgumentParser
import Control
#if canImport(Glibc)
import Glibc
#endif
import Enforcement
import Journal
import Policy
import SimulatedKernel
import Sysfs

/// The options of every command that changes state (`assign`, `release`, `agent`) or plans to (`plan`):
/// where sysfs, proc, the policy, the journal and the assignment table are.
struct EngineOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("policy"), help: ArgumentHelp(
        "The policy file (default \(Policy.defaultPath); missing means monitor-only).", valueName: "file"))
    var policyPath: String?

    @Option(name: .customLong("proc-root"), help: ArgumentHelp(
        "The directory that plays the role of /proc (host-use analysis); default /proc, or for another --sysfs-root "
            + "D/sys the proc/ beside it (D/proc), never the machine's own.", valueName: "dir"))
    var procRootOption: String?

    @Option(name: .customLong("journal"), help: ArgumentHelp(
        "The journal directory; default /var/lib/vfio-warden/journal, or for another --sysfs-root D/sys "
            + "D/var/lib/vfio-warden/journal.", valueName: "dir"))
    var journalOption: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where assignments.json keeps each assignment's original drivers; default /var/lib/vfio-warden, or for "
            + "another --sysfs-root D/sys D/var/lib/vfio-warden.", valueName: "dir"))
    var stateDirectoryOption: String?

    @Flag(name: .customLong("no-journald"), help: "Do not mirror journal records to the systemd journal (mirrored when its socket exists).")
    var noJournald = false

    @Option(name: .customLong("step-timeout"), help: ArgumentHelp("Seconds one sysfs write may take before it counts as hung.", valueName: "seconds"))
    var stepTimeout: Double = 10

    @Flag(name: .customLong("simulated-kernel"), help: ArgumentHelp(
        "For tests only: write through a simulated kernel over --sysfs-root (a simulated tree), not to its files.",
        visibility: .hidden))
    var simulatedKernel = false

    /// The journal directory: `--journal`, or the default for `--sysfs-root` (``StateLocations``).
    var journal: String { journalOption ?? StateLocations.journalDirectory(for: global.sysfsRoot) }

    /// The state directory: `--state-dir`, or the default for `--sysfs-root` (``StateLocations``).
    var stateDirectory: String { stateDirectoryOption ?? StateLocations.stateDirectory(for: global.sysfsRoot) }

    /// The directory that plays `/proc`, and why host use is unknown when no directory can say.
    var proc: StateLocations.Proc { StateLocations.proc(given: procRootOption, sysfsRoot: global.sysfsRoot) }

    /// The directory that plays `/proc`; warns on standard error when host use is unknown.
    var procRoot: String {
        let proc = proc
        if let warning = proc.warning { StandardError.write("warning: \(warning)\n") }
        return proc.path
    }

    func validate() throws {
        guard stepTimeout > 0 else { throw ValidationError("--step-timeout must be more than 0 seconds") }
    }

    func loadPolicy() throws -> Policy {
        do {
            return try CheckCommand.loadPolicy(path: policyPath)
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// With `--simulated-kernel` (tests only), the kernel that takes the writes; `nil` otherwise.
    func makeSimulatedKernel(root: SysfsRoot) throws -> SimulatedKernel? {
        simulatedKernel ? try SimulatedKernelOption.kernel(over: root) : nil
    }

    /// An engine that writes to sysfs under the root (or to `writer`: a simulated kernel), journals, and keeps
    /// assignments in the state directory. With `journaled: false` (planning only) no journal is opened.
    /// `scheduleWakeUp`: how a repair put off by a flapping back-off is run later (the agent passes it through its
    /// ``SerialGate``, so it never interleaves with an event or a request); `nil`: a plain task (one-shot commands).
    func makeEngine(root: SysfsRoot, journaled: Bool, writer: (any SysfsAttributeWriter)? = nil,
                    flapping: FlapDetector.Settings = FlapDetector.Settings(),
                    scheduleWakeUp: (@Sendable (Duration, @escaping @Sendable () async -> Void) -> Void)? = nil) throws -> (Engine, JournalWriter?, PolicyBinding) {
        // StrictModes: what changes devices as root obeys only a policy that root alone can change.
        if journaled { try PolicyTrust.requireTrusted(path: policyPath) }
        let policy = try loadPolicy()
        let binding = PolicyBinding(policy: policy, sysfs: root, proc: SysfsRoot(procRoot))
        var journal: JournalWriter?
        if journaled {
            do {
                var options = JournalWriter.Options()
                // Mirror to journald when it runs, so `journalctl MESSAGE_ID=… PCI_SLOT_NAME=…` works too.
                if !noJournald && SysfsRoot("/run/systemd/journal").existsWithoutFollowing("socket") {
                    options.mirror = JournalMirror()
                }
                journal = try JournalWriter(directory: self.journal, options: options)
            } catch {
                throw CommandFailure("cannot open the journal in \(self.journal): \(error) (is the agent running? it holds the journal)")
            }
        }
        let graph = try scanGraph(root)
        let engine = try Engine(Engine.Configuration(
            root: root, writer: writer ?? root, journal: journal, store: AssignmentStore(directory: stateDirectory),
            verdicts: { binding.verdicts(for: $0) }, sriovRules: binding.sriovRules,
            staticAssignments: binding.staticAssignments(in: graph),
            stepTimeout: .milliseconds(Int(stepTimeout * 1000)), hostUse: { binding.hostUse(of: $1, in: $0) },
            flapping: flapping, scheduleWakeUp: scheduleWakeUp))
        return (engine, journal, binding)
    }
}

extension EngineOptions {
    /// `plan` without the agent: journals a refused plan (``RefusedRequests``) when the journal can be opened (root,
    /// no agent holding it); otherwise says on standard error why it was not journaled. The refusal stands either way.
    func journalRefusal(_ plans: [Plan], request: String) async {
        let writer: JournalWriter
        do {
            writer = try JournalWriter(directory: journal)
        } catch {
            StandardError.write("warning: the refusal was not journaled: cannot open the journal in \(journal): \(error)\n")
            return
        }
        defer { writer.close() }
        if let note = await RefusedRequests().journal(plans, request: request, uid: getuid(),
                                                      cause: .control(request, uid: getuid(), pid: getpid()), to: writer) {
            StandardError.write("warning: \(note)\n")
        }
    }
}

/// The planner's siblings option, as `--quarantine`.
extension Planner.SiblingMode: ExpressibleByArgument {}
