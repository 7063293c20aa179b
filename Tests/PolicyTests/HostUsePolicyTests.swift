import Policy
import Testing
import Topology

@Suite("[host_use]: what counts as host use where the analysis can only infer it")
struct HostUsePolicyTests {
    @Test("Without [host_use], a netdev in another namespace and the only keyboard count as in use")
    func defaults() throws {
        let policy = try Policy.parse(text: "[manage]\ndevices = [\"0000:03:01.0\"]\n", file: "policy.toml")
        #expect(policy.hostUse == HostUseOptions(netdevElsewhereInUse: true, onlyKeyboardInUse: true))
    }

    @Test("netdev_elsewhere and only_keyboard take \"in_use\" or \"free\"")
    func values() throws {
        let policy = try Policy.parse(text: """
            [host_use]
            netdev_elsewhere = "free"
            only_keyboard = "in_use"
            """, file: "policy.toml")
        #expect(policy.hostUse == HostUseOptions(netdevElsewhereInUse: false, onlyKeyboardInUse: true))
    }

    @Test("Anything else is an error naming the key, line and column", arguments: [
        ("[host_use]\nnetdev_elsewhere = \"ignore\"\n", "host_use.netdev_elsewhere", 2, "invalid value 'ignore': expected \"in_use\" (the default) or \"free\""),
        ("[host_use]\nonly_keyboard = false\n", "host_use.only_keyboard", 2, "expected \"in_use\" or \"free\", found a boolean"),
        ("[host_use]\nnetdev_elsewher = \"free\"\n", "host_use.netdev_elsewher", 2, "did you mean 'netdev_elsewhere'?"),
        ("host_use = \"free\"\n", "host_use", 1, "expected a table [host_use], found a string"),
    ])
    func errors(text: String, path: String, line: Int, message: String) {
        let errors = parseErrors(text)
        #expect(errors.count == 1)
        #expect(errors.first?.path == path)
        #expect(errors.first?.position?.line == line)
        #expect(errors.first?.message.contains(message) == true)
    }
}
