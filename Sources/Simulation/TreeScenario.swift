/// What `vfio-warden simulate --sysfs-root TREE` plays without `--scenario`: a scenario made from that tree, never
/// the built-in one (which names the q35 host's devices and interfaces, absent from another tree). The agent starts
/// on the copy (the policy's `[[sriov]]` and `[[assign]]` rules, enforcement), every group's state is shown with its
/// reasons, then the journal.
public enum TreeScenario {
    public static func make(for tree: String) -> Scenario {
        Scenario(
            name: "made from \(tree) (no --scenario)",
            description: "The agent starts on a copy of \(tree) with the policy given (monitor-only without --policy), then "
                + "every group's state is shown and the journal told. To play a timeline on this tree, pass --scenario FILE "
                + "(the format: docs/scenarios.md, or `man vfio-warden`).",
            steps: [
                .say("every group's state, as the agent sees this tree"),
                .status,
                .say("the journal"),
                .journal(device: nil),
            ])
    }
}
