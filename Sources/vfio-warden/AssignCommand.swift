import Agent
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Control
import Enforcement
import Journal
import Sysfs

/// `vfio-warden assign ADDRESS... --owner NAME`: isolate whole groups, verified, rolled back on failure.
struct AssignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "Isolate the whole IOMMU group of each ADDRESS for an owner (bind every member to vfio-pci).",
        discussion: """
            Every member of the group goes to vfio-pci (bridges stay on pcieport), but only when every member may \
            be written: inside the policy's allowlist, not protected, not in use by the host (mounted filesystems, \
            swap, RAID/LVM holders, interfaces that are up or carry addresses or routes, the boot VGA and console). \
            Otherwise nothing is written and the reasons are printed. Each write is verified by re-reading the \
            driver link, has a timeout, and a failure puts every member back where it was. Each member's driver is \
            remembered in --state-dir for release. Every step is journaled before it is made.
            """
    )
    @OptionGroup var engine: EngineOptions
    @OptionGroup var request: AssignArguments
    @OptionGroup var control: ControlOptions

    func run() async throws {
        let (addresses, owner, siblings, json) = (request.addresses, request.owner, request.siblings, request.json)
        let sent = ControlRequest(op: .assign, devices: try request.devices, owner: owner, quarantine: siblings, format: json ? .json : .text)
        if try control.sendIfAgentRuns(sent, engine.global) { return }
        try control.refuseDirectWhileAgentRuns(engine.global)
        let root = try engine.global.resolvedRoot()
        let kernel = try engine.makeSimulatedKernel(root: root.root)
        if kernel == nil { try LiveSysfs.requireWritable(root.root, given: engine.global.sysfsRoot, command: "assign") }
        let (engine, journal, _) = try engine.makeEngine(root: root.root, journaled: true, writer: kernel)
        defer { journal?.close() }
        // As the agent names it (`ControlRequest.summary`): the same words in the journal whichever way it came.
        let request = sent.summary
        let report = await engine.assign(try parseAddresses(addresses), owner: owner, siblings: siblings,
                                         cause: .control(request, uid: getuid(), pid: getpid()))
        if let note = await RefusedRequests().journal(report.actions.map(\.plan), request: request, uid: getuid(),
                                                      cause: .control(request, uid: getuid(), pid: getpid()), to: journal) {
            StandardError.write("warning: \(note)\n")
        }
        try printPlans(report.actions.map(\.plan), results: report.actions.map(\.result), json: json)
        for note in report.notes { StandardError.write("warning: \(note)\n") }
        try refuseUnrecorded(report)
        if report.actions.contains(where: { $0.result.outcome != .completed }) { throw ExitCode(1) }
    }
}

/// `vfio-warden release ADDRESS...|--owner NAME`: give groups back to the drivers they had.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Return assigned groups to the drivers their members had, clearing driver_override.",
        discussion: "A group stays isolated while another device its owner asked for in it is still assigned."
    )
    @OptionGroup var engine: EngineOptions
    @OptionGroup var request: ReleaseArguments
    @OptionGroup var control: ControlOptions

    func run() async throws {
        let (addresses, owner, json) = (request.addresses, request.owner, request.json)
        let sent = ControlRequest(op: .release, devices: try request.devices, owner: owner, format: json ? .json : .text)
        if try control.sendIfAgentRuns(sent, engine.global) { return }
        try control.refuseDirectWhileAgentRuns(engine.global)
        let root = try engine.global.resolvedRoot()
        let kernel = try engine.makeSimulatedKernel(root: root.root)
        if kernel == nil { try LiveSysfs.requireWritable(root.root, given: engine.global.sysfsRoot, command: "release") }
        let (engine, journal, _) = try engine.makeEngine(root: root.root, journaled: true, writer: kernel)
        defer { journal?.close() }
        let request = sent.summary
        let report = await engine.release(owner: owner, addresses: try parseAddresses(addresses),
                                          cause: .control(request, uid: getuid(), pid: getpid()))
        if let note = await RefusedRequests().journal(report.actions.map(\.plan), request: request, uid: getuid(),
                                                      cause: .control(request, uid: getuid(), pid: getpid()), to: journal) {
            StandardError.write("warning: \(note)\n")
        }
        try printPlans(report.actions.map(\.plan), results: report.actions.map(\.result), json: json)
        for note in report.notes { StandardError.write("warning: \(note)\n") }
        try refuseUnrecorded(report)
        if report.actions.contains(where: { $0.result.outcome != .completed }) { throw ExitCode(1) }
    }
}

/// A lost outcome is a failure: the records a command could not make durable (a full journal disk) are named,
/// and it exits 1 whatever its plans did. `journal verify` reports the gap until the agent's next start recovers it.
func refuseUnrecorded(_ report: Engine.Report) throws {
    guard !report.unrecorded.isEmpty else { return }
    StandardError.write("error: the journal could not record \(report.unrecorded.count) record\(report.unrecorded.count == 1 ? "" : "s") "
                        + "(its outcome is not durable; `journal verify` reports the gap until the agent's next start recovers it):\n")
    for lost in report.unrecorded { StandardError.write("  - \(lost)\n") }
    throw ExitCode(1)
}
