import Agent
import Journal
import Logging

/// What the agent's services share: the engine, the gate every state change passes (one at a time), systemd's
/// notification socket, the log, the status line and the record of why and how the agent stops.
public struct AgentRuntime: Sendable {
    public let engine: Engine
    public let journal: JournalWriter?
    public let gate: SerialGate
    public let notifier: SystemdNotifier
    public let logger: Logger
    /// One line for systemd's `STATUS=` (`enforcing: 2 assigned groups, 0 violated`).
    public let statusLine: @Sendable () async -> String
    public let stop: AgentStop

    public init(engine: Engine, journal: JournalWriter?, gate: SerialGate, notifier: SystemdNotifier, logger: Logger,
                stop: AgentStop = AgentStop(), statusLine: @escaping @Sendable () async -> String) {
        self.engine = engine
        self.journal = journal
        self.gate = gate
        self.notifier = notifier
        self.logger = logger
        self.stop = stop
        self.statusLine = statusLine
    }

    /// One log line per thing the engine did.
    /// Tagged with what made it (`[udev]`, `[resync]`, `[start]`...), not with this module's name: swift-log's
    /// `source` defaults to the module that logs, which would tag every line `[Control]`.
    public func log(_ report: Engine.Report, source: String? = nil) {
        let source = source ?? (report.event == nil ? "engine" : "udev")
        for line in ReportText.lines(report) { logger.info("\(line)", source: source) }
    }

    /// A systemd notification that failed is logged, never fatal.
    public func notify(_ body: () throws -> Void) {
        do { try body() } catch { logger.warning("sd_notify: \(error)", source: "systemd") }
    }
}
