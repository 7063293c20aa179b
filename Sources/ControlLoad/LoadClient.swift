import Control
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One control client of a load run: a connection, a few requests (some of them malformed on purpose), and the
/// check that each got exactly one reply, in order, saying what it should.
struct LoadClient {
    /// What a request is, and so what its reply must say.
    enum Kind: CaseIterable {
        case status, list, plan, assign, truncatedJSON, unknownOperation

        func line(id: String, device: String, owner: String) -> String {
            switch self {
            case .status: #"{"op":"status","format":"json","id":"\#(id)"}"#
            case .list: #"{"op":"list","id":"\#(id)"}"#
            case .plan: #"{"op":"plan","action":"assign","devices":["\#(device)"],"owner":"\#(owner)","id":"\#(id)"}"#
            case .assign: #"{"op":"assign","devices":["\#(device)"],"owner":"\#(owner)","id":"\#(id)"}"#
            // Cut short: not JSON, so the reply cannot carry the id.
            case .truncatedJSON: #"{"op":"status","id":"\#(id)","format":"#
            case .unknownOperation: #"{"op":"explode","id":"\#(id)"}"#
            }
        }
    }

    struct Outcome: Sendable {
        var sent = 0
        var replies = 0
        /// Replies to well-formed requests with a nonzero exit code (a plan or an assign the planner refused or
        /// that failed, e.g. racing a host driver's claim): answered, but not a success.
        var nonzeroExits = 0
        /// Seconds from sending a request to reading its reply (one request at a time only), with the request's kind.
        var latencies: [(kind: String, seconds: Double)] = []
        var problems: [String] = []
    }

    let index: Int
    let path: String
    let kinds: [Kind]
    let device: String
    let owner: String
    /// Whether this client may change state (root): otherwise an assign must be refused.
    let mayChangeState: Bool
    /// Send every request before reading any reply.
    let pipelined: Bool
    let timeoutSeconds: Int

    /// Connects (blocking while the listen backlog is full), as every client does before any sends.
    func connect() -> Result<Int32, ControlSocketError> {
        Result { () throws(ControlSocketError) in try ControlClient.connect(path, timeout: timeoutSeconds) }
    }

    /// Sends the requests on `fd` and checks the replies; closes `fd`.
    func run(on fd: Int32) -> Outcome {
        defer { close(fd) }
        var outcome = Outcome()
        var reader = ControlReplyReader(fd: fd, path: path)
        let requests = kinds.enumerated().map { (number, kind) in
            (kind: kind, id: "c\(index).\(number)", line: Array((kind.line(id: "c\(index).\(number)", device: device, owner: owner) + "\n").utf8))
        }
        do throws(ControlSocketError) {
            if pipelined {
                try ControlClient.send(requests.flatMap(\.line), on: fd, path: path)
                outcome.sent = requests.count
                for request in requests {
                    let reply = try reader.nextLine()
                    outcome.replies += 1
                    check(reply, for: request.kind, id: request.id, into: &outcome)
                }
            } else {
                for request in requests {
                    let started = DispatchTime.now().uptimeNanoseconds
                    try ControlClient.send(request.line, on: fd, path: path)
                    outcome.sent += 1
                    let reply = try reader.nextLine()
                    outcome.latencies.append(("\(request.kind)", Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
                    outcome.replies += 1
                    check(reply, for: request.kind, id: request.id, into: &outcome)
                }
            }
            // Exactly one reply per request: nothing more may follow once the client stops sending.
            shutdown(fd, Int32(SHUT_WR))
            if let extra = try? reader.nextLine() {
                outcome.problems.append("client \(index): a reply nobody asked for: \(String(decoding: extra.prefix(200), as: UTF8.self))")
            }
        } catch {
            outcome.problems.append("client \(index): \(error) after \(outcome.sent) requests sent, \(outcome.replies) replies")
        }
        return outcome
    }

    private func check(_ line: [UInt8], for kind: Kind, id: String, into outcome: inout Outcome) {
        func problem(_ text: String) {
            outcome.problems.append("client \(index), request \(id) (\(kind)): \(text): \(String(decoding: line.prefix(300), as: UTF8.self))")
        }
        guard let reply = try? ControlReplySummary.decode(line) else { return problem("the reply is not a JSON reply") }
        switch kind {
        case .truncatedJSON, .unknownOperation:
            let code: ControlProtocolError.Code = kind == .truncatedJSON ? .badJSON : .unknownOperation
            if reply.ok || reply.error?.code != code { problem("expected an error \(code.rawValue)") }
            if reply.id != nil && reply.id != id { problem("the reply names another request") }
        case .status, .list, .plan, .assign:
            if reply.id != id { return problem("the reply is not this request's (id)") }
            if kind == .assign && !mayChangeState {
                if reply.ok || reply.error?.code != .refused { problem("a non-root assign must be refused") }
                return
            }
            guard reply.ok else { return problem("expected ok") }
            if reply.exitCode != 0 { outcome.nonzeroExits += 1 }
        }
    }
}
