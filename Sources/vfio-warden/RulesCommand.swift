import ArgumentParser
import Policy
import Rules
import Sysfs
import Topology

/// `vfio-warden rules generate`: the udev rules that keep host drivers off isolated devices from boot on.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Generate the udev rules that put isolated devices on vfio-pci as soon as they appear.",
        subcommands: [RulesGenerateCommand.self]
    )
}

struct RulesGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write 70-vfio-warden.rules for the policy's [[assign]] groups and [[sriov]] PFs.",
        discussion: """
            At `add` of a PCI device the policy isolates, the rules set driver_override (vfio-pci, or the \
            [[sriov]] vf_driver for VFs) before a host driver's module is loaded by 80-drivers.rules, then probe the \
            device; managed SR-IOV PFs get sriov_drivers_autoprobe=0. Devices are matched by address plus \
            vendor/device ids, never by IOMMU group number. The group siblings of each [[assign]] device are read \
            from --sysfs-root now (read only), so regenerate after a hardware change. VFs are matched through their \
            physfn link, so every VF of a PF is covered whatever its address. Devices that are protected or \
            outside [manage], and whole groups with such a member, get no rule; warnings go to standard error.

            Install the file in $(pkg-config --variable=udevdir udev)/rules.d (default /usr/lib/udev/rules.d) \
            and run `udevadm control --reload`. Without --output the rules are printed. Without --policy, a missing \
            \(Policy.defaultPath) means monitor-only, as for `check` and the agent: a file with no rules.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("policy"), help: ArgumentHelp(
        "The policy file (default \(Policy.defaultPath)).", valueName: "file"))
    var policyPath: String?

    @Option(name: .customLong("output"), help: ArgumentHelp(
        "Write the rules to this file (replaced whole, through FILE.tmp) instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(name: .customLong("no-scan"), help: ArgumentHelp(
        "Do not read sysfs: rules for the devices the policy names only, without group siblings (for a staged install; "
            + "regenerate on the host without it)."))
    var noScan = false

    func run() throws {
        let path = policyPath ?? Policy.defaultPath
        let policy: Policy
        do {
            // The same rule as `check` and the agent: a missing default policy is monitor-only (no rules).
            policy = try CheckCommand.loadPolicy(path: policyPath)
        } catch {
            throw CommandFailure("\(error)")
        }
        var graph: TopologyGraph?
        if !noScan {
            let root = try global.resolvedRoot()
            do {
                graph = try TopologyGraph.scan(root: root.root)
            } catch {
                StandardError.write("warning: cannot scan \(global.sysfsRoot): \(error)\n")
            }
        }
        var command = "vfio-warden rules generate"
        if global.sysfsRoot != "/sys" && !noScan { command += " --sysfs-root \(global.sysfsRoot)" }
        // The command the header recommends for regenerating never has --no-scan, even when this file was made
        // without a scan (a staged install): run on the host, it reads the group siblings that --no-scan leaves out.
        command += " --policy \(path)"
        command += " --output \(output ?? Self.defaultOutput)"
        let result = UdevRulesGenerator(policy: policy, graph: graph).generate(policyPath: path, command: command)
        for warning in result.warnings { StandardError.write("warning: \(warning)\n") }
        if let output {
            try AtomicFile.write(result.text, to: output)
        } else {
            StandardOutput.write(result.text)
        }
    }

    /// Where the rules are installed when pkg-config knows no udevdir.
    static let defaultOutput = "/usr/lib/udev/rules.d/" + UdevRulesGenerator.fileName
}
