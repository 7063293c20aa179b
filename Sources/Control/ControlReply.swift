import Agent
import Enforcement
import Foundation
import Reports
import Sysfs

/// A reply as the agent sends it: one JSON object on one line.
///
/// Keys (snake_case): `ok`, `op`, `id`, `error` (`code`, `message`, `field`), `exit_code` (what the CLI exits with),
/// `output` (exactly what the CLI prints on standard output, in the request's `format`), `warnings` (what it prints
/// on standard error, each after `warning: `), `plans` (as `plan --json` prints them, with results once carried
/// out), `status` (`agent`, `groups`, `assignments`) and `list` (the graph as `list --json` prints it).
public struct ControlReply: Encodable, Sendable {
    public var ok: Bool
    public var op: String?
    public var id: String?
    public var error: ControlProtocolError?
    public var exitCode: Int32?
    public var output: String?
    public var warnings: [String]?
    public var plans: [PlanJSON]?
    public var status: AgentStatus?
    public var list: TopologyReport?

    public init(ok: Bool, op: String? = nil, id: String? = nil, error: ControlProtocolError? = nil, exitCode: Int32? = nil,
                output: String? = nil, warnings: [String]? = nil, plans: [PlanJSON]? = nil, status: AgentStatus? = nil,
                list: TopologyReport? = nil) {
        self.ok = ok
        self.op = op
        self.id = id
        self.error = error
        self.exitCode = exitCode
        self.output = output
        self.warnings = warnings
        self.plans = plans
        self.status = status
        self.list = list
    }

    public static func failure(_ error: ControlProtocolError, op: String? = nil, id: String? = nil) -> ControlReply {
        ControlReply(ok: false, op: op, id: id, error: error, exitCode: 1)
    }

    enum CodingKeys: String, CodingKey {
        case ok, op, id, error, output, warnings, plans, status, list
        case exitCode = "exit_code"
    }

    /// The reply as one line, with its newline.
    public func encodedLine() -> [UInt8] {
        if let data = try? JSONRendering.encode(self, pretty: false) { return Array(data) }
        // Only a non-finite number could fail to encode; say so rather than send nothing.
        let fallback = ControlReply.failure(ControlProtocolError(.failed, "the reply could not be encoded"), op: op, id: id)
        return Array((try? JSONRendering.encode(fallback, pretty: false)) ?? Data("{\"ok\":false}\n".utf8))
    }
}

extension ControlProtocolError: Codable {
    enum CodingKeys: String, CodingKey { case code, message, field }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try container.decode(Code.self, forKey: .code), try container.decode(String.self, forKey: .message),
                  field: try container.decodeIfPresent(String.self, forKey: .field))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(field, forKey: .field)
    }
}

/// The part of a reply a client needs to act like the direct command: what to print and how to exit.
public struct ControlReplySummary: Decodable, Sendable, Equatable {
    public var ok: Bool
    public var op: String?
    public var id: String?
    public var error: ControlProtocolError?
    public var exitCode: Int32?
    public var output: String?
    public var warnings: [String]?

    enum CodingKeys: String, CodingKey {
        case ok, op, id, error, output, warnings
        case exitCode = "exit_code"
    }

    public static func decode(_ line: some Collection<UInt8>) throws -> ControlReplySummary {
        try JSONDecoder().decode(ControlReplySummary.self, from: Data(line))
    }
}

/// `status`: the agent, every group's state and every assignment.
public struct AgentStatus: Codable, Sendable, Equatable {
    public struct Agent: Codable, Sendable, Equatable {
        public var version: String
        public var pid: Int32
        /// Seconds since the Unix epoch.
        public var startedAt: Int64
        public var policy: String
        public var monitorOnly: Bool
        public var sysfsRoot: String
        public var journal: String?
        /// Set while the journal refuses records (a full disk): since when, and what the agent does meanwhile.
        public var journalProblem: String?
        public init(version: String, pid: Int32, startedAt: Int64, policy: String, monitorOnly: Bool, sysfsRoot: String, journal: String?) {
            self.version = version
            self.pid = pid
            self.startedAt = startedAt
            self.policy = policy
            self.monitorOnly = monitorOnly
            self.sysfsRoot = sysfsRoot
            self.journal = journal
        }
        enum CodingKeys: String, CodingKey {
            case version, pid, policy, journal
            case startedAt = "started_at", monitorOnly = "monitor_only", sysfsRoot = "sysfs_root"
            case journalProblem = "journal_problem"
        }
    }

    public struct Group: Codable, Sendable, Equatable {
        public var group: Int
        public var state: String
        public var owner: String?
        public var members: [String]
        public var reasons: [String]
    }

    public struct Held: Codable, Sendable, Equatable {
        public var owner: String
        public var requested: [String]
        public var members: [String]
        /// Member address → the driver it had before (`none` for none).
        public var originalDrivers: [String: String]
        enum CodingKeys: String, CodingKey {
            case owner, requested, members
            case originalDrivers = "original_drivers"
        }
    }

    /// A device another tool keeps taking back (issue 12, item 22): still repaired, after a back-off.
    public struct Flap: Codable, Sendable, Equatable {
        public var device: String
        /// Repairs within the detector's window.
        public var fights: Int
        /// The wait before each repair now.
        public var backoffSeconds: Double
        enum CodingKeys: String, CodingKey {
            case device, fights
            case backoffSeconds = "backoff_seconds"
        }
    }

    public var agent: Agent
    public var groups: [Group]
    public var assignments: [Held]
    /// Devices in a flapping episode; absent when there are none.
    public var flapping: [Flap]?

    public init(agent: Agent, statuses: [GroupStatus], assignments: AssignmentTable, flapping: [FlapDetector.Episode] = []) {
        self.agent = agent
        self.flapping = flapping.isEmpty ? nil : flapping.map {
            Flap(device: $0.address.description, fights: $0.fights,
                 backoffSeconds: Double($0.backoff.components.seconds) + Double($0.backoff.components.attoseconds) / 1e18)
        }
        groups = statuses.map {
            Group(group: $0.group, state: $0.state.rawValue, owner: $0.owner, members: $0.members.map(\.description), reasons: $0.reasons)
        }
        self.assignments = assignments.assignments.map { held in
            var drivers: [String: String] = [:]
            for member in held.members { drivers[member.identity.address.description] = member.originalDriver ?? "none" }
            return Held(owner: held.owner, requested: held.requested.map(\.address.description),
                        members: held.members.map(\.identity.address.description), originalDrivers: drivers)
        }
    }

    /// One line for systemd's `STATUS=`: `enforcing: 2 assigned groups, 0 violated`.
    public var summaryLine: String {
        let assigned = groups.filter { $0.owner != nil }.count
        let violated = groups.filter { $0.state == "violated" }.count
        let mode = agent.monitorOnly ? "monitoring" : "enforcing"
        return "\(mode): \(assigned) assigned group\(assigned == 1 ? "" : "s"), \(violated) violated"
            + (agent.journalProblem.map { "; \($0)" } ?? "")
    }

    /// What `status` prints (each line through ``escapedForTerminal(_:)``: owners, reasons and the policy path
    /// come from outside).
    public var text: String {
        var text = escapedForTerminal("agent \(agent.version), pid \(agent.pid), policy \(agent.policy)\(agent.monitorOnly ? " (monitor-only)" : "")") + "\n"
        text += summaryLine + "\n"
        for group in groups {
            var line = "group \(group.group): \(group.state)" + (group.owner.map { " (\($0))" } ?? "")
                + " [\(group.members.joined(separator: ", "))]"
            if !group.reasons.isEmpty && group.state != "isolated" && group.state != "host" { line += ": " + group.reasons.joined(separator: "; ") }
            text += escapedForTerminal(line) + "\n"
        }
        for flap in flapping ?? [] {
            text += "flapping: \(flap.device) taken back \(flap.fights) times by another tool; still repaired, each repair after \(flap.backoffSeconds) s\n"
        }
        return text
    }
}
