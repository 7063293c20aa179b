import Agent
import Crypto
import Foundation
import Journal
import Policy
import Sysfs

/// SIGHUP: read the policy again; a valid one replaces the engine's binding (journal `policy_loaded`), an invalid
/// one is rejected with its file, line and column (journal `policy_rejected`) and the old one stays in force.
public enum PolicyReload {
    public struct Outcome: Sendable {
        /// The new binding when the policy was loaded; `nil` when it was rejected.
        public var binding: PolicyBinding?
        /// One line for the log: what was loaded, or why it was rejected.
        public var message: String
        /// What the engine did under the new policy (rules applied, assignments enforced).
        public var report: Engine.Report?
        /// When the policy was rejected: one short line for systemd's STATUS=, naming the file and the first
        /// error's position (the log and the journal's `policy_rejected` have every error).
        public var rejection: String?
    }

    /// Loads `path` (`nil`: the default path, monitor-only when it is absent) and swaps it into `engine`.
    public static func reload(engine: Engine, journal: JournalWriter?, path: String?, sysfs: SysfsRoot, proc: SysfsRoot) async -> Outcome {
        let file = path ?? Policy.defaultPath
        let policy: Policy
        // The bytes parsed: `policy_loaded` hashes them, not a second read of a file that may have changed since.
        var bytes: [UInt8] = []
        do throws(PolicyErrors) {
            if path == nil && access(file, F_OK) != 0 {
                policy = .monitorOnly(file: "\(file) (absent)")
            } else if geteuid() == 0, access(file, F_OK) == 0, let problem = StrictModes.check(file, what: "the policy") {
                // StrictModes: the root agent obeys only a policy that root alone can change.
                throw PolicyErrors([PolicyError(kind: .unreadable, file: file, position: nil, path: "", message: problem)])
            } else {
                let loaded = try Policy.loadWithSource(path: file)
                policy = loaded.policy
                bytes = loaded.bytes
            }
        } catch {
            let first = error.errors.first
            let rejected = PolicyRejected(path: first?.file ?? file, error: error.description,
                                          line: first?.position?.line, column: first?.position?.column)
            _ = try? await journal?.append(.policyRejected(rejected), cause: .agent("SIGHUP"))
            let position = first?.position.map { ":\($0.line):\($0.column)" } ?? ""
            let count = error.errors.count
            return Outcome(binding: nil, message: "policy \(file) rejected, the previous one stays in force: \(error.description)",
                           rejection: "reload rejected: \(rejected.path)\(position): \(count) error\(count == 1 ? "" : "s"), the previous policy stays in force")
        }
        let binding = PolicyBinding(policy: policy, sysfs: sysfs, proc: proc)
        let digest = SHA256.hash(data: bytes).map { String($0, radix: 16).leftPadded(2) }.joined()
        let rules = policy.manage.count + policy.protect.count + policy.assignments.count + policy.sriov.count
        _ = try? await journal?.append(.policyLoaded(PolicyLoaded(path: policy.file, sha256: digest, rules: rules)), cause: .agent("SIGHUP"))
        let graph = await engine.graph
        let report = await engine.reload(verdicts: { binding.verdicts(for: $0) }, sriovRules: binding.sriovRules,
                                         staticAssignments: binding.staticAssignments(in: graph), cause: .agent("SIGHUP: policy reloaded"),
                                         hostUse: { binding.hostUse(of: $1, in: $0) })
        return Outcome(binding: binding, message: "policy \(policy.file) loaded: \(rules) rule(s)", report: report)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
