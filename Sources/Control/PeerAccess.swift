#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a control connection, from `getsockopt(SO_PEERCRED)` (and `SO_PEERGROUPS`).
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups, when the kernel told them (`SO_PEERGROUPS`, Linux 4.13 and later).
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }
}

/// Who may do what over the control socket: root changes state; members of the read group (`--read-group`)
/// may read (`status`, `list`, `plan`); anyone else is refused.
public struct ControlAccess: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        case allowed
        case refused(String)
    }

    /// The group whose members may read, resolved to a gid; `nil`: root only.
    public var readGroup: UInt32?
    /// The read group's name, for messages.
    public var readGroupName: String?

    public init(readGroup: UInt32? = nil, readGroupName: String? = nil) {
        self.readGroup = readGroup
        self.readGroupName = readGroupName
    }

    public func decide(_ operation: ControlRequest.Operation, for peer: PeerCredentials) -> Decision {
        if peer.uid == 0 { return .allowed }
        if operation.changesState {
            return .refused("\(operation.rawValue) changes state and only root may do that (the caller is uid \(peer.uid), pid \(peer.pid))")
        }
        return decideConnection(for: peer)
    }

    /// Whether `peer` may make any request at all (root, or a member of the read group): decided when the
    /// connection is accepted, before anything it sends is read.
    public func decideConnection(for peer: PeerCredentials) -> Decision {
        if peer.uid == 0 { return .allowed }
        if let readGroup, peer.gid == readGroup || peer.groups.contains(readGroup) { return .allowed }
        let group = readGroupName.map { "group \($0)" } ?? readGroup.map { "gid \($0)" }
        return .refused("uid \(peer.uid) (pid \(peer.pid)) is not root" + (group.map { " nor in \($0)" } ?? " and no --read-group is configured"))
    }

    /// Resolves a group name (`getgrnam_r`) to its gid, or says it does not exist.
    public static func resolveGroup(_ name: String) throws(ControlSocketError) -> UInt32 {
        if let number = UInt32(name) { return number }
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let status = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard status == 0, result != nil else {
            throw ControlSocketError(operation: "getgrnam_r", path: name, errno: status == 0 ? ENOENT : status,
                                     detail: "no such group \(name)")
        }
        return group.gr_gid
    }
}
