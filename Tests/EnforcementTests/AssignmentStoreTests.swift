import Testing
import Foundation
import Sysfs
@testable import Enforcement

@Suite struct AssignmentStoreTests {
    @Test func aSavedTableLoadsBackAndHoldsNoGroupNumbers() async throws {
        try await withTemporaryHost { root in
            let store = AssignmentStore(directory: root.absolute("state"))
            #expect(try store.load() == AssignmentTable())
            let table = AssignmentTable([Assignment(
                owner: "vm1",
                requested: [DeviceIdentity(address: .literal("0000:03:01.0"), ids: "8086:100e")],
                members: [Assignment.Member(identity: DeviceIdentity(address: .literal("0000:03:01.0"), ids: "8086:100e"),
                                            originalDriver: "e1000", originalOverride: nil, isBridge: false)],
                isolationDriver: "vfio-pci")])
            try store.save(table)
            #expect(try store.load() == table)
            let text = try root.read("state/assignments.json")
            #expect(!text.contains("group"), "group numbers change across reboots and are never persisted")
            #expect(!root.existsWithoutFollowing("state/assignments.json.tmp"))
        }
    }

    @Test func aGarbledTableIsAnErrorThatNamesTheFileAndLeavesIt() async throws {
        try await withTemporaryHost { root in
            let store = AssignmentStore(directory: root.absolute(""))
            FileManager.default.createFile(atPath: store.path, contents: Data("{not json".utf8))
            #expect {
                try store.load()
            } throws: { error in
                let text = (error as? StoreError)?.description ?? ""
                return text.contains(store.path) && text.contains("not a valid assignment table")
            }
            let left = try root.read("assignments.json")
            #expect(left == "{not json", "left as it was")
        }
    }

    @Test func aStateDirectoryOthersCanWriteIsRefusedNamingItsPathAndMode() async throws {
        try await withTemporaryHost { root in
            let directory = root.absolute("state")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(directory, 0o777)
            let store = AssignmentStore(directory: directory)
            for attempt in ["load", "save"] {
                #expect {
                    if attempt == "load" { _ = try store.load() } else { try store.save(AssignmentTable()) }
                } throws: { error in
                    let text = "\(error)"
                    return text.contains(directory) && text.contains("mode 0777") && text.contains("can be written by anyone")
                }
            }
            #expect(!FileManager.default.fileExists(atPath: store.path))
        }
    }
}
