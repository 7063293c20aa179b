import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A caller the agent refuses (code `refused`) is told so by the CLI, which then does not act on sysfs itself.
@Suite(.enabled(if: CLI.path != nil, "the vfio-warden executable is built beside the tests"))
struct RefusedCallerTests {
    static let refusal = #"{"ok":false,"exit_code":1,"error":{"code":"refused","message":"uid 1000 (pid 7) is not root nor in group warden"}}"# + "\n"

    /// Listens at `path` and answers every connection with ``refusal`` at once, then closes it, as the agent does
    /// for a stranger; `count` connections, then it stops.
    func refusingListener(at path: String, count: Int) throws -> Thread {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0 && listen(fd, 8) == 0)
        let thread = Thread {
            for _ in 0..<count {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { break }
                _ = Self.refusal.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(connection)
            }
            close(fd)
        }
        thread.start()
        return thread
    }

    @Test(arguments: [["assign", "0000:03:01.0", "--owner", "vm1"], ["release", "--owner", "vm1"], ["status"]])
    func theAgentsRefusalIsReportedAndNothingIsDoneDirectly(_ command: [String]) throws {
        try CLI.withDirectory { directory in
            #expect(try CLI.run(["example-tree", "\(directory)/sys"]).status == 0)
            let before = try CLI.run(["list", "--json", "--sysfs-root", "\(directory)/sys"]).output
            let socket = "\(directory)/control.sock"
            _ = try refusingListener(at: socket, count: 1)
            let arguments = command == ["status"] ? command + ["--control-socket", socket]
                : command + ["--control-socket", socket, "--sysfs-root", "\(directory)/sys"]
            let result = try CLI.run(arguments)
            #expect(result.status == 1)
            #expect(result.errors.contains("uid 1000 (pid 7) is not root nor in group warden"))
            #expect(result.errors.contains("(refused)"))
            #expect(try CLI.run(["list", "--json", "--sysfs-root", "\(directory)/sys"]).output == before)
        }
    }
}
