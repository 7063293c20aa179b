import Testing
import Foundation
import Journal
import Sysfs
import Enforcement
@testable import Agent
@testable import Control

@Suite struct NodeLabelsTests {
    static let status = AgentStatus(
        agent: AgentStatus.Agent(version: "0.1.0+git.4f2a", pid: 812, startedAt: 0, policy: "/etc/vfio-warden/policy.toml",
                                 monitorOnly: false, sysfsRoot: "/sys", journal: nil),
        statuses: [
            GroupStatus(group: 1, members: [.literal("0000:00:01.0")], state: .blocked, owner: nil, reasons: ["is the boot VGA device"]),
            GroupStatus(group: 4, members: [.literal("0000:03:01.0"), .literal("0000:03:02.0")], state: .isolated, owner: "vm1", reasons: []),
            GroupStatus(group: 5, members: [.literal("0000:04:00.0")], state: .violated, owner: "pod/ns-a/gpu-job", reasons: ["0000:04:00.0 is on nouveau"]),
            GroupStatus(group: 6, members: [.literal("0000:05:00.0")], state: .host, owner: nil, reasons: []),
        ],
        assignments: AssignmentTable())

    @Test func labelsCountTheGroupsPerState() throws {
        let rendered = try NodeLabels(Self.status)
        #expect(rendered.labels == [
            "vfio-warden.io/agent": "running",
            "vfio-warden.io/mode": "enforcing",
            "vfio-warden.io/version": "0.1.0_git.4f2a",
            "vfio-warden.io/groups-assigned": "2",
            "vfio-warden.io/groups-host": "1",
            "vfio-warden.io/groups-isolated": "1",
            "vfio-warden.io/groups-violated": "1",
            "vfio-warden.io/groups-blocked": "1",
        ])
        for (key, value) in rendered.labels {
            #expect(NodeLabels.isValidLabelValue(value), "\(key)=\(value)")
            let name = try #require(key.split(separator: "/").last)
            #expect(name.count <= 63 && NodeLabels.isValidLabelValue(String(name)), "\(key)")
        }
    }

    @Test func theGroupsAnnotationCarriesEachGroupAsJSON() throws {
        let rendered = try NodeLabels(Self.status)
        let text = try #require(rendered.annotations["vfio-warden.io/groups"])
        let groups = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(groups.map { $0["group"] as? Int } == [1, 4, 5, 6])
        #expect(groups.map { $0["state"] as? String } == ["blocked", "isolated", "violated", "host"])
        // Owners that no label value could hold ("/") are kept whole here.
        #expect(groups[2]["owner"] as? String == "pod/ns-a/gpu-job")
        #expect(groups[1]["members"] as? [String] == ["0000:03:01.0", "0000:03:02.0"])
        #expect(groups[0]["owner"] == nil)
    }

    @Test func theMergePatchIsWhatKubectlPatchTakes() throws {
        let patch = try NodeLabels(Self.status).mergePatch()
        #expect(!patch.dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(patch.utf8)) as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(Set(metadata.keys) == ["labels", "annotations"])
        #expect((metadata["labels"] as? [String: String])?["vfio-warden.io/groups-violated"] == "1")
        #expect((metadata["annotations"] as? [String: String])?["vfio-warden.io/groups"]?.hasPrefix("[{") == true)
    }

    @Test func aMonitorOnlyAgentIsLabelledMonitoring() throws {
        var status = Self.status
        status.agent.monitorOnly = true
        #expect(try NodeLabels(status).labels["vfio-warden.io/mode"] == "monitoring")
    }

    @Test(arguments: [
        ("0.1.0", "0.1.0"),
        ("0.1.0+git.4f2a", "0.1.0_git.4f2a"),
        ("-rc-", "rc"),
        ("vm/1 é", "vm_1"),
        ("___", ""),
        ("", ""),
        (String(repeating: "a", count: 70), String(repeating: "a", count: 63)),
        (String(repeating: "a", count: 62) + "-b", String(repeating: "a", count: 62)),
    ])
    func labelValuesFollowKubernetesSyntax(_ input: String, _ expected: String) {
        let value = NodeLabels.labelValue(input)
        #expect(value == expected)
        #expect(NodeLabels.isValidLabelValue(value))
    }

    @Test(arguments: [
        ("enforcing", true), ("", true), ("a", true), ("1.2_3-4", true), (String(repeating: "x", count: 63), true),
        (String(repeating: "x", count: 64), false), ("-a", false), ("a-", false), ("a b", false), ("a/b", false), ("é", false),
    ])
    func labelValueValidity(_ value: String, _ valid: Bool) {
        #expect(NodeLabels.isValidLabelValue(value) == valid)
    }

    /// The path `status --k8s-labels` takes: the agent's JSON status reply, decoded, rendered.
    @Test func theAgentsStatusReplyRendersAsLabels() async throws {
        let host = try TestHost.make()
        defer { host.remove() }
        let engine = try host.makeEngine(journal: nil)
        _ = await engine.start(version: "test")
        _ = await engine.assign([TestHost.e1000], owner: "vm1", cause: .agent("test"))
        let service = ControlService(engine: engine, journal: nil, agent: { TestHost.agentInfo }, authorize: { _, _ in .allowed })
        let reply = await service.handle(ControlRequest(op: .status, format: .json), peer: PeerCredentials(pid: 1, uid: 0, gid: 0))
        let status = try JSONDecoder().decode(AgentStatus.self, from: Data(try #require(reply.output).utf8))
        let labels = try NodeLabels(status).labels
        #expect(labels["vfio-warden.io/groups-assigned"] == "1")
        #expect(labels["vfio-warden.io/groups-isolated"] == "1")
        #expect(labels["vfio-warden.io/version"] == "test")
    }
}
