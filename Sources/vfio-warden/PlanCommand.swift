import Agent
import ArgumentParser
import Control
import Enforcement
import Reports
import Sysfs

/// `vfio-warden plan assign|release`: the exact steps, or the refusal with its reasons; nothing is written.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what assign or release would write, or why it is refused; nothing is written.",
        subcommands: [PlanAssign.self, PlanRelease.self]
    )

    struct PlanAssign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "assign",
            abstract: "Plan isolating the whole IOMMU group of each ADDRESS for an owner.",
            discussion: """
                Exit status 0 when the plan may be carried out, 1 when it is refused. A refusal is journaled \
                (record_refused: who, what, why), by the agent or, with --direct, here when the journal can be opened.
                """
        )
        @OptionGroup var engine: EngineOptions
        @OptionGroup var request: AssignArguments
        @OptionGroup var control: ControlOptions

        func run() async throws {
            let (addresses, owner, siblings, json) = (request.addresses, request.owner, request.siblings, request.json)
            let sent = ControlRequest(op: .plan, devices: try parseAddresses(addresses), owner: owner, quarantine: siblings,
                                      action: .assign, format: json ? .json : .text)
            if try control.sendIfAgentRuns(sent, engine.global) { return }
            let root = try engine.global.resolvedRoot()
            let (engine, _, _) = try engine.makeEngine(root: root.root, journaled: false)
            let plans = await engine.planAssign(try parseAddresses(addresses), owner: owner, siblings: siblings)
            try printPlans(plans, json: json)
            if plans.contains(where: \.isRefused) {
                await self.engine.journalRefusal(plans, request: sent.summary)
                throw ExitCode(1)
            }
        }
    }

    struct PlanRelease: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "release",
            abstract: "Plan returning assigned groups to the drivers their members had.",
            discussion: """
                Exit status 0 when the plan may be carried out, 1 when it is refused. A refusal is journaled \
                (record_refused: who, what, why), by the agent or, with --direct, here when the journal can be opened.
                """
        )
        @OptionGroup var engine: EngineOptions
        @OptionGroup var request: ReleaseArguments
        @OptionGroup var control: ControlOptions

        func run() async throws {
            let (addresses, owner, json) = (request.addresses, request.owner, request.json)
            let sent = ControlRequest(op: .plan, devices: try parseAddresses(addresses), owner: owner, action: .release,
                                      format: json ? .json : .text)
            if try control.sendIfAgentRuns(sent, engine.global) { return }
            let root = try engine.global.resolvedRoot()
            let (engine, _, _) = try engine.makeEngine(root: root.root, journaled: false)
            let plans = Planner.release(owner: owner, addresses: try parseAddresses(addresses), in: await engine.context()).map(\.plan)
            try printPlans(plans, json: json)
            if plans.contains(where: \.isRefused) {
                await self.engine.journalRefusal(plans, request: sent.summary)
                throw ExitCode(1)
            }
        }
    }
}

/// Parses addresses, or fails naming the malformed one.
func parseAddresses(_ texts: [String]) throws -> [PCIAddress] {
    try texts.map { text in
        do throws(PCIAddressError) { return try PCIAddress.parse(text) } catch { throw ValidationError(error.description) }
    }
}

func printPlans(_ plans: [Plan], results: [ExecutionResult?]? = nil, json: Bool) throws {
    StandardOutput.write(try PlanOutput.render(plans, results: results, json: json))
}

extension String {
    /// Without a trailing newline, for showing the value written.
    func trimmingCharacters() -> String { hasSuffix("\n") ? String(dropLast()) : self }
}
