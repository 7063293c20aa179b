#if canImport(Glibc)
import Glibc
#endif

/// Snapshots as tarballs: packed and unpacked with the system's `tar` (`posix_spawnp(3)`).
enum Tarball {
    /// Whether `path` names a tarball by its ending (`.tar`, `.tar.gz`, `.tgz`, `.tar.xz`, `.tar.zst`).
    static func isTarball(_ path: String) -> Bool {
        [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst"].contains { path.hasSuffix($0) }
    }

    /// `tar -caf ARCHIVE -C DIRECTORY .` (compression chosen by the ending).
    static func pack(_ directory: String, into archive: String) throws {
        try run(["tar", "-caf", archive, "-C", directory, "."])
    }

    /// `tar -xf ARCHIVE -C DIRECTORY`.
    static func unpack(_ archive: String, into directory: String) throws {
        try run(["tar", "-xf", archive, "-C", directory])
    }

    /// A new private directory under `$TMPDIR` (`mkdtemp(3)`).
    static func temporaryDirectory(prefix: String) throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CommandFailure("cannot create a temporary directory under \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: result)
    }

    /// `rm -rf DIRECTORY`, for the temporary directories made here.
    static func remove(_ directory: String) {
        try? run(["rm", "-rf", "--one-file-system", directory])
    }

    /// Runs a program found on `PATH` and waits for it; a non-zero exit is an error naming the command.
    static func run(_ arguments: [String]) throws {
        var pid = pid_t()
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = posix_spawnp(&pid, arguments[0], nil, nil, argv, environ)
        guard status == 0 else {
            throw CommandFailure("cannot run \(arguments[0]): \(String(cString: strerror(status)))")
        }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        let code = (exitStatus >> 8) & 0xFF
        guard exitStatus & 0x7F == 0 && code == 0 else {
            throw CommandFailure("\(arguments.joined(separator: " ")) failed with exit status \(code)")
        }
    }
}
