import ArgumentParser
import Policy
import Reports
import Sysfs
#if canImport(Glibc)
import Glibc
#endif

/// `vfio-warden policy check FILE`: validates a policy file, as `check --policy FILE --validate-only` does.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with the policy file.",
        subcommands: [PolicyCheckCommand.self]
    )
}

struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy file: every error with FILE:LINE:COLUMN, exit 1 when there is any.",
        discussion: """
            The same as `vfio-warden check --policy FILE --validate-only`, which prints the same. Only the file is \
            read, not sysfs; `vfio-warden check --policy FILE` also checks the policy against the devices (an \
            [[assign]] whose device, or a member of its IOMMU group, is protected).

            A file (or a directory above it) that anyone but root could write, or that another user owns, is \
            named in a warning: the agent, and assign and release run as root, refuse such a policy.
            """
    )

    @Argument(help: ArgumentHelp("The policy file (default \(Policy.defaultPath)).", valueName: "file"))
    var file: String?

    @Flag(name: .long, help: "Print JSON: file, valid, summary, errors (each with line, column, path, kind, message), warnings.")
    var json = false

    func run() throws {
        try PolicyValidation.run(path: file, json: json)
    }
}

/// What `policy check` and `check --validate-only` print (one implementation, so the two cannot drift apart).
enum PolicyValidation {
    struct Report: Encodable {
        struct Problem: Encodable {
            var line: Int?
            var column: Int?
            var path: String
            var kind: String
            var message: String
        }
        var file: String
        var valid: Bool
        var summary: String?
        var errors: [Problem]
        var warnings: [String]
    }

    static func run(path: String?, json: Bool) throws {
        let file = path ?? Policy.defaultPath
        let warnings = PolicyTrust.problem(path: path).map { [$0] } ?? []
        var report = Report(file: file, valid: true, summary: nil, errors: [], warnings: warnings)
        do {
            let policy = try CheckCommand.loadPolicy(path: path)
            report.file = policy.file
            report.summary = CheckCommand.summary(policy)
        } catch {
            report.valid = false
            report.errors = error.errors.map {
                Report.Problem(line: $0.position?.line, column: $0.position?.column, path: $0.path, kind: $0.kind.rawValue, message: $0.message)
            }
            if !json {
                for warning in warnings { StandardError.write("warning: \(warning)\n") }
                StandardError.write(error.description + "\n")
                throw ExitCode(CheckCommand.Status.policyError)
            }
        }
        if json {
            StandardOutput.write(try JSONRendering.encode(report))
            if !report.valid { throw ExitCode(CheckCommand.Status.policyError) }
            return
        }
        for warning in warnings { StandardError.write("warning: \(warning)\n") }
        StandardOutput.write("\(escapedForTerminal(report.file)): valid (\(report.summary ?? ""))\n")
    }
}

/// StrictModes for the policy file: who could have written it (``StrictModes``).
enum PolicyTrust {
    /// Why the policy at `path` (the default file when `nil`; nothing when that is absent) is not trusted.
    static func problem(path: String?) -> String? {
        let file = path ?? Policy.defaultPath
        if path == nil && access(file, F_OK) != 0 { return nil }
        if access(file, F_OK) != 0 { return nil }   // the load names a missing file
        return StrictModes.check(file, what: "the policy")
    }

    /// For `agent`, `assign` and `release` run as root: refuse an untrusted policy before reading it.
    static func requireTrusted(path: String?) throws {
        guard geteuid() == 0, let problem = problem(path: path) else { return }
        throw CommandFailure("\(problem). Refused: as root, vfio-warden only obeys a policy that root alone can change (`vfio-warden policy check` shows this as a warning)")
    }
}
