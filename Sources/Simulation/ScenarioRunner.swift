import Agent
import Enforcement
import Journal
import SimulatedKernel
import Sysfs
import Topology

/// Plays a ``Scenario`` against the real engine on a simulated kernel: kernel happenings change the tree and
/// emit uevents, which reach the engine as they would from udev; user commands go to the engine as requests.
/// What happened is written, line by line, to `output`; the journal stays behind.
public final class ScenarioRunner {
    public let kernel: SimulatedKernel
    public let engine: Engine
    public let journalDirectory: String
    let output: (String) -> Void
    let clock = ContinuousClock()
    let started: ContinuousClock.Instant

    /// The number of violations the engine fixed, refusals it gave, and steps that failed.
    public private(set) var summary = Summary()

    public struct Summary: Sendable, Hashable {
        public var events = 0
        /// Host drivers' claims on held devices, put right.
        public var violationsFixed = 0
        /// New devices (VFs, hot-plugged members) isolated before any host driver claimed them.
        public var devicesIsolated = 0
        public var refusals = 0
        public var failures = 0
        public var hostBindsOfHeldDevices = 0
    }

    public init(kernel: SimulatedKernel, engine: Engine, journalDirectory: String, output: @escaping (String) -> Void) {
        self.kernel = kernel
        self.engine = engine
        self.journalDirectory = journalDirectory
        self.output = output
        started = clock.now
    }

    /// Starts the engine (reconciliation: `[[sriov]]`, `[[assign]]`, enforcement) and plays every step.
    public func run(_ scenario: Scenario) async throws {
        say("scenario: \(scenario.name)")
        if !scenario.description.isEmpty { say(scenario.description) }
        section("agent starts: scan, apply the policy's [[sriov]] and [[assign]] rules, enforce")
        print(await engine.start(version: "simulate"))
        try await deliverEvents()
        for step in scenario.steps {
            try await play(step)
        }
    }

    func play(_ step: Scenario.Step) async throws {
        switch step {
        case .say(let text):
            section(text)
        case .status:
            for status in await engine.statuses() {
                let owner = status.owner.map { " (\($0))" } ?? ""
                let members = status.members.map(\.description).joined(separator: " ")
                say("  group \(status.group)\(owner): \(status.state.rawValue) [\(members)]"
                    + (status.reasons.isEmpty || status.state == .isolated ? "" : " — " + status.reasons.joined(separator: "; ")))
            }
        case .assign(let devices, let owner):
            say("$ vfio-warden assign \(devices.map(\.description).joined(separator: " ")) --owner \(owner)")
            print(await engine.assign(devices, owner: owner, cause: .control("assign \(devices.map(\.description).joined(separator: " ")) --owner \(owner)", uid: 0, pid: 0)))
            try await deliverEvents()
        case .release(let owner, let devices):
            let args = (owner.map { ["--owner", $0] } ?? []) + devices.map(\.description)
            say("$ vfio-warden release \(args.joined(separator: " "))")
            print(await engine.release(owner: owner, addresses: devices, cause: .control("release \(args.joined(separator: " "))", uid: 0, pid: 0)))
            try await deliverEvents()
        case .kernel(let happening):
            try happen(happening)
            if case .overflow = happening {
                _ = kernel.takeEmittedEvents()
                print(await engine.handle(.overflow))
            }
            try await deliverEvents()
        case .journal(let device):
            let records = try JournalReader(directory: journalDirectory).records()
            let shown = records.filter { record in device.map { record.event.devices.contains($0) } ?? true }
            say("$ vfio-warden journal --journal \(journalDirectory)" + (device.map { " --device \($0)" } ?? ""))
            for line in StoryRenderer.story(shown, timeZone: .gmt) { say("  " + line) }
            let report = try JournalVerifier.verify(directory: journalDirectory)
            say("$ vfio-warden journal verify: \(report.records) records, " + (report.isIntact ? "chain intact" : "\(report.problems.count) problems"))
        }
    }

    /// Makes a kernel-side happening real on the simulated tree, announcing it as a shell command.
    func happen(_ happening: Scenario.KernelHappening) throws {
        switch happening {
        case .rebind(let address, let driver):
            say("# someone takes \(address) back for the host by hand:")
            say("#   echo > driver_override; echo \(address) > drivers/<current>/unbind; echo \(address) > drivers/\(driver)/bind")
            try kernel.write("\n", to: PCIPaths.attribute(.driverOverride, of: address))
            if let current = try kernel.root.linkName("\(PCIPaths.device(address))/driver") {
                try kernel.write(address.description, to: "\(PCIPaths.driver(current))/unbind")
            }
            try kernel.write(address.description, to: "\(PCIPaths.driver(driver))/bind")
        case .loadModule(let name):
            say("# modprobe \(name)")
            _ = try kernel.loadModule(name)
        case .createVFs(let pf, let count):
            say("# echo \(count) > \(PCIPaths.attribute(.sriovNumVFs, of: pf))")
            try kernel.write("\(count)", to: PCIPaths.attribute(.sriovNumVFs, of: pf))
        case .remove(let address):
            say("# echo 1 > \(PCIPaths.attribute(.remove, of: address))")
            try kernel.write("1", to: PCIPaths.attribute(.remove, of: address))
        case .rescan:
            say("# echo 1 > \(PCIPaths.rescan)")
            try kernel.write("1", to: PCIPaths.rescan)
        case .overflow:
            say("# the netlink receive buffer overflows (ENOBUFS): events are lost")
        case .linkDown(let name):
            say("# ip link set \(name) down")
            try kernel.tree.writeFile("class/net/\(name)/operstate", "down\n")
            try kernel.tree.writeFile("class/net/\(name)/flags", "0x1002\n")
        }
    }

    /// Hands every uevent the kernel emitted to the engine, until the engine's own writes emit no more.
    func deliverEvents() async throws {
        for _ in 0..<64 {
            let events = kernel.takeEmittedEvents()
            if events.isEmpty { return }
            for event in events {
                summary.events += 1
                let report = await engine.handle(.device(event))
                // Events the agent caused itself are shown only when they led to something.
                if !report.actions.isEmpty || !report.states.isEmpty || event.action == .add || event.action == .remove {
                    print(report)
                } else if event.action == .bind, let driver = event.driver, !GroupViability.isIsolatingDriver(driver) {
                    print(report)
                }
            }
        }
    }

    func print(_ report: Engine.Report) {
        for (plan, result) in report.actions {
            if plan.kind == .enforce && result.outcome == .completed {
                let unbinds = plan.steps.contains { if case .unbind = $0.action { return true } else { return false } }
                if unbinds { summary.violationsFixed += 1 } else { summary.devicesIsolated += 1 }
            }
            if result.outcome == .refused { summary.refusals += 1 }
            if result.outcome == .rolledBack || result.outcome == .rollbackIncomplete { summary.failures += 1 }
        }
        for line in ReportText.lines(report) { say("  " + line) }
    }

    func section(_ text: String) {
        say("")
        say("== \(text)")
    }

    func say(_ line: String) {
        let elapsed = clock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        output(line.isEmpty ? "" : "[\(String(ms).leftPad(5)) ms] \(line)")
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
