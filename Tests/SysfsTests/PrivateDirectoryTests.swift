import Foundation
import Testing
@testable import Sysfs
#if canImport(Glibc)
import Glibc
#endif

/// `PrivateDirectory.check` walks the path as StrictModes does (``StrictModes/entries(of:)``): resolved first, so
/// a link cannot hide the directories that really hold the journal or the state.
@Suite(.serialized) struct PrivateDirectoryTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.path + "/private-directory-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    @Test func aRootOwnedPrivateDirectoryPasses() throws {
        try withDirectory { directory in
            let state = directory + "/state"
            try PrivateDirectory.make(state, mode: 0o750)
            try PrivateDirectory.check(state)
        }
    }

    @Test func aMissingDirectoryIsJudgedByWhatExistsAboveIt() throws {
        try withDirectory { directory in
            try PrivateDirectory.check(directory + "/not/yet")
            chmod(directory, 0o777)
            #expect(throws: PrivateDirectory.Unsafe.self) { try PrivateDirectory.check(directory + "/not/yet") }
        }
    }

    /// The state directory reached through a link, under a directory another user owns: that user could rename it
    /// away and put their own in its place. Before, `stat(2)` followed the link for the directory itself and then
    /// walked the link's own parents, never looking at the directory that holds the target.
    @Test(.enabled(if: geteuid() == 0, "chown needs root"))
    func aLinkCannotHideADirectoryAnotherUserOwns() throws {
        try withDirectory { directory in
            let foreign = directory + "/someone-elses"
            try FileManager.default.createDirectory(atPath: foreign + "/state", withIntermediateDirectories: true)
            chmod(foreign, 0o755)
            chmod(foreign + "/state", 0o750)
            #expect(chown(foreign, 1000, 1000) == 0)
            let link = directory + "/state"
            #expect(symlink(foreign + "/state", link) == 0)
            #expect {
                try PrivateDirectory.check(link)
            } throws: { error in
                let unsafe = error as? PrivateDirectory.Unsafe
                return unsafe?.path == foreign && unsafe?.owner == 1000 && unsafe?.reason == "is owned by another user"
            }
        }
    }
}
