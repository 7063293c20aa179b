import Foundation
import Reports

/// Kubernetes node labels and annotations with the groups' states, from the agent's ``AgentStatus``: what
/// `vfio-warden status --k8s-labels` prints, as a JSON merge patch for `kubectl patch node NODE --type merge -p`.
///
/// Labels (for scheduling: node selectors and affinity, `Gt`/`Lt` on the counts) are `vfio-warden.io/agent=running`,
/// `vfio-warden.io/mode` (`enforcing` or `monitoring`), `vfio-warden.io/version`, and `vfio-warden.io/groups-STATE`
/// for `assigned` (held for an owner) and each state (`host`, `isolated`, `violated`, `blocked`). The annotation
/// `vfio-warden.io/groups` holds every group as JSON (`group`, `state`, `owner`, `members`), which a label value
/// could not carry.
public struct NodeLabels: Sendable, Equatable {
    public static let prefix = "vfio-warden.io/"
    /// The longest label value Kubernetes accepts.
    public static let maximumValueLength = 63

    public var labels: [String: String]
    public var annotations: [String: String]

    /// One group in the `vfio-warden.io/groups` annotation.
    struct GroupEntry: Encodable {
        var group: Int
        var state: String
        var owner: String?
        var members: [String]
    }

    public init(_ status: AgentStatus) throws {
        var labels: [String: String] = [
            Self.prefix + "agent": "running",
            Self.prefix + "mode": status.agent.monitorOnly ? "monitoring" : "enforcing",
            Self.prefix + "version": Self.labelValue(status.agent.version),
            Self.prefix + "groups-assigned": String(status.groups.filter { $0.owner != nil }.count),
        ]
        for state in ["host", "isolated", "violated", "blocked"] {
            labels[Self.prefix + "groups-" + state] = String(status.groups.filter { $0.state == state }.count)
        }
        self.labels = labels
        let entries = status.groups.map { GroupEntry(group: $0.group, state: $0.state, owner: $0.owner, members: $0.members) }
        annotations = [Self.prefix + "groups": try JSONRendering.render(entries, pretty: false).trimmingCharacters(in: .newlines)]
    }

    /// The merge patch: `{"metadata":{"annotations":{...},"labels":{...}}}` on one line, keys sorted.
    public func mergePatch() throws -> String {
        try JSONRendering.render(["metadata": ["labels": labels, "annotations": annotations]], pretty: false)
    }

    /// `text` as a valid label value: characters outside `[A-Za-z0-9._-]` become `_`, at most 63 of them, and
    /// it begins and ends with a letter or digit (`0.1.0+git.abc` → `0.1.0_git.abc`, `-rc-` → `rc`).
    public static func labelValue(_ text: String) -> String {
        var characters = text.map { isAllowed($0) ? $0 : "_" }
        if characters.count > maximumValueLength { characters = Array(characters.prefix(maximumValueLength)) }
        while let first = characters.first, !isAlphanumeric(first) { characters.removeFirst() }
        while let last = characters.last, !isAlphanumeric(last) { characters.removeLast() }
        return String(characters)
    }

    /// Whether Kubernetes accepts `value` as a label value: empty, or at most 63 characters of `[A-Za-z0-9._-]`
    /// beginning and ending with a letter or digit.
    public static func isValidLabelValue(_ value: String) -> Bool {
        if value.isEmpty { return true }
        guard value.count <= maximumValueLength, value.allSatisfy(isAllowed),
              let first = value.first, let last = value.last else { return false }
        return isAlphanumeric(first) && isAlphanumeric(last)
    }

    private static func isAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber)
    }

    private static func isAllowed(_ character: Character) -> Bool {
        isAlphanumeric(character) || character == "." || character == "_" || character == "-"
    }
}
