import Agent
import Enforcement
import Journal
import Reports
import Sysfs
import Topology

/// Answers control requests against the engine: parses, checks the caller, carries out, renders the reply.
/// The engine actor serialises state changes; many connections may call ``handle(line:peer:)`` at once.
public struct ControlService: Sendable {
    public let engine: Engine
    public let journal: JournalWriter?
    /// Who may do what; tests inject their own.
    public var authorize: @Sendable (ControlRequest.Operation, PeerCredentials) -> ControlAccess.Decision
    /// Who may make any request at all, decided at accept (``screen(_:)``).
    public var admit: @Sendable (PeerCredentials) -> ControlAccess.Decision
    /// Which refused connections are journaled (one per uid and minute, the others counted).
    public let refusals: SharedRefusalLimiter
    /// Which refused assign, release and plan requests are journaled (one per uid and minute, the others counted);
    /// tests give one with their own clock.
    public var refusedRequests = RefusedRequests()
    /// The agent's identity for `status`, asked at each request (a reload may change the policy).
    public var agent: @Sendable () -> AgentStatus.Agent
    /// State changes pass one at a time (see ``SerialGate``); share it with whatever else changes state.
    public let changes: SerialGate

    public init(engine: Engine, journal: JournalWriter?, access: ControlAccess, agent: AgentStatus.Agent, gate: SerialGate = SerialGate()) {
        self.init(engine: engine, journal: journal, agent: { agent }, gate: gate, authorize: { access.decide($0, for: $1) },
                  admit: { access.decideConnection(for: $0) })
    }

    public init(engine: Engine, journal: JournalWriter?, agent: @escaping @Sendable () -> AgentStatus.Agent, gate: SerialGate = SerialGate(),
                authorize: @escaping @Sendable (ControlRequest.Operation, PeerCredentials) -> ControlAccess.Decision,
                admit: @escaping @Sendable (PeerCredentials) -> ControlAccess.Decision = { _ in .allowed },
                refusals: SharedRefusalLimiter = SharedRefusalLimiter()) {
        self.engine = engine
        self.journal = journal
        self.agent = agent
        self.changes = gate
        self.authorize = authorize
        self.admit = admit
        self.refusals = refusals
    }

    /// A connection just accepted from `peer`: `nil` when it may make requests, else the one reply it gets before
    /// it is closed. The refusal is journaled (`record_refused`, cause `control` with the uid and pid) unless this uid
    /// was refused less than a window ago: then it is counted, and the count goes with its next refusal journaled.
    public func screen(_ peer: PeerCredentials) async -> ControlReply? {
        guard case .refused(let reason) = admit(peer) else { return nil }
        await journalRefusal("control connection refused: \(reason)", uid: peer.uid, cause: .control("connect", uid: peer.uid, pid: peer.pid))
        return .failure(ControlProtocolError(.refused, reason + "; nothing this connection sends is read"))
    }

    /// Journals a refusal (`record_refused` with `cause`) unless `uid` was refused less than a window ago
    /// (``refusals``, shared by refused connections and refused requests): then it is only counted, and the count goes
    /// with the uid's next refusal journaled.
    private func journalRefusal(_ reason: String, uid: UInt32, cause: Cause) async {
        guard case .journal(let unjournaled, let elapsed, let otherUIDs) = refusals.note(uid: uid) else { return }
        var text = reason
        if unjournaled > 0, let elapsed {
            text += "; and \(unjournaled) more of uid \(uid) in the \(elapsed.components.seconds) s since its last one journaled, counted, not journaled"
        }
        if otherUIDs > 0 { text += "; and \(otherUIDs) of uids too many to remember, counted, not journaled" }
        _ = try? await journal?.append(.recordRefused(RecordRefused(reason: text)), cause: cause)
    }

    /// One request line (without its newline) from `peer`: the reply, never a thrown error.
    public func handle(line: [UInt8], peer: PeerCredentials) async -> ControlReply {
        let request: ControlRequest
        do {
            request = try ControlRequest.parse(line)
        } catch {
            return .failure(error)
        }
        return await handle(request, peer: peer)
    }

    public func handle(_ request: ControlRequest, peer: PeerCredentials) async -> ControlReply {
        let cause = Cause.control(request.summary, uid: peer.uid, pid: peer.pid)
        if case .refused(let reason) = authorize(request.op, peer) {
            // The refusal is journaled (who asked for what), rate-limited per uid as refused connections are: a
            // read-group member looping `assign` cannot flood the journal.
            await journalRefusal("control request refused: \(reason)", uid: peer.uid, cause: cause)
            return .failure(ControlProtocolError(.refused, reason), op: request.op.rawValue, id: request.id)
        }
        do {
            var reply = try await carryOut(request, cause: cause, uid: peer.uid)
            reply.op = request.op.rawValue
            reply.id = request.id
            return reply
        } catch {
            return .failure(ControlProtocolError(.failed, "\(error)"), op: request.op.rawValue, id: request.id)
        }
    }

    private func carryOut(_ request: ControlRequest, cause: Cause, uid: UInt32) async throws -> ControlReply {
        let json = request.format == .json
        switch request.op {
        case .assign:
            let report = await changes.run("control: \(request.summary)") { [engine] in
                await engine.assign(request.devices, owner: request.owner ?? "", siblings: request.quarantine, cause: cause)
            }
            await refusedRequests.journal(report.actions.map(\.plan), request: request.summary, uid: uid, cause: cause, to: journal)
            return try executed(report, json: json)
        case .release:
            let report = await changes.run("control: \(request.summary)") { [engine] in
                await engine.release(owner: request.owner, addresses: request.devices, cause: cause)
            }
            await refusedRequests.journal(report.actions.map(\.plan), request: request.summary, uid: uid, cause: cause, to: journal)
            return try executed(report, json: json)
        case .plan:
            let plans: [Plan]
            switch request.action ?? .assign {
            case .assign: plans = await engine.planAssign(request.devices, owner: request.owner ?? "", siblings: request.quarantine)
            case .release: plans = Planner.release(owner: request.owner, addresses: request.devices, in: await engine.context()).map(\.plan)
            }
            await refusedRequests.journal(plans, request: request.summary, uid: uid, cause: cause, to: journal)
            return ControlReply(ok: true, exitCode: plans.contains(where: \.isRefused) ? 1 : 0,
                                output: try PlanOutput.render(plans, json: json), plans: plans.map { PlanJSON($0) })
        case .status:
            var status = AgentStatus(agent: agent(), statuses: await engine.statuses(), assignments: await engine.assignments,
                                     flapping: await engine.flappingDevices())
            status.agent.journalProblem = await engine.journalProblem
            return ControlReply(ok: true, exitCode: 0, output: json ? try JSONRendering.render(status) : status.text, status: status)
        case .list:
            let report = TopologyReport(await engine.graph)
            return ControlReply(ok: true, exitCode: 0, output: json ? try JSONRendering.render(report) : TableRenderer.render(report), list: report)
        }
    }

    private func executed(_ report: Engine.Report, json: Bool) throws -> ControlReply {
        let plans = report.actions.map(\.plan)
        let results = report.actions.map { Optional($0.result) }
        // A lost outcome (a record the journal could not make durable) is a failure, whatever the plans did.
        let failed = report.actions.contains(where: { $0.result.outcome != .completed }) || !report.unrecorded.isEmpty
        return ControlReply(ok: true, exitCode: failed ? 1 : 0,
                            output: try PlanOutput.render(plans, results: results, json: json), warnings: report.notes,
                            plans: report.actions.map { PlanJSON($0.plan, result: $0.result) })
    }
}
