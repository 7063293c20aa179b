import SystemPackage
import Sysfs
import Topology

/// Carries out plans: each step is one sysfs write with a deadline, verified by re-reading the device
/// (`driver` link, `driver_override`, `sriov_*`). When a step fails, every device the plan touched is put back
/// to the driver and `driver_override` it had before the plan: a group ends where it started or fully isolated,
/// never half.
///
/// No write without its record: a step whose start the observer cannot record is not written, and once any
/// record fails the executor writes nothing more (no rollback either): the outcome is `journal-failed`, and
/// crash recovery takes the plan over from its journaled steps. A release goes on past a member that is gone
/// (there is nothing to give back), rather than rolling the rest of the group back into isolation.
public struct Executor: Sendable {
    public let root: SysfsRoot
    public let writer: any SysfsAttributeWriter
    /// How long one write may take (an `unbind` can hang in a driver's `remove()`).
    public var stepTimeout: Duration
    /// How long to wait for the `driver` link to settle after a probe or bind (asynchronous probing).
    public var verifyTimeout: Duration

    public init(root: SysfsRoot, writer: any SysfsAttributeWriter, stepTimeout: Duration = .seconds(10),
                verifyTimeout: Duration = .seconds(2)) {
        self.root = root
        self.writer = writer
        self.stepTimeout = stepTimeout
        self.verifyTimeout = verifyTimeout
    }

    /// Runs `plan`; a refused plan writes nothing.
    public func run(_ plan: Plan, observer: any ExecutionObserver = SilentObserver()) async -> ExecutionResult {
        guard !plan.isRefused else { return ExecutionResult(outcome: .refused) }
        do {
            try await observer.planWillRun(plan)
        } catch {
            let failure = StepFailure(kind: .writeFailed, message: "the plan's intent could not be recorded, so nothing was written: \(error)")
            let result = ExecutionResult(outcome: .refused, failure: failure)
            await observer.planFinished(plan, result: result)
            return result
        }
        let reader = DeviceReader(root: root)
        var before: [PCIAddress: PCIDevice] = [:]
        var records: [StepRecord] = []
        var gone = Set<PCIAddress>()
        for step in plan.steps {
            if gone.contains(step.address) { continue }
            let current = reader.read(step.address)
            if before[step.address] == nil, let current { before[step.address] = current }
            let record = await perform(step, current: current, reader: reader, observer: observer)
            records.append(record)
            if let failure = record.failure {
                if failure.kind == .journalFailed {
                    let result = ExecutionResult(outcome: .journalFailed, steps: records, failure: failure)
                    await observer.planFinished(plan, result: result)
                    return result
                }
                // A member gone mid-release has nothing left to give back: the others still go back to their
                // drivers (rolling them back into isolation would strand them on vfio-pci once the
                // assignment is dropped).
                if plan.kind == .release, failure.kind == .deviceGone {
                    gone.insert(step.address)
                    continue
                }
                // Enforcement only ever moves a device towards isolation: putting it back would hand it to the
                // host driver that claimed it. The caller re-plans from sysfs as it is instead.
                let rollback = plan.kind == .enforce ? [] : await rollBack(to: before, reader: reader, observer: observer)
                let complete = rollback.allSatisfy { $0.failure == nil || $0.failure?.kind == .deviceGone }
                let result = ExecutionResult(outcome: complete ? .rolledBack : .rollbackIncomplete, steps: records,
                                             rollback: rollback, failure: failure)
                await observer.planFinished(plan, result: result)
                return result
            }
        }
        let result = ExecutionResult(outcome: .completed, steps: records)
        await observer.planFinished(plan, result: result)
        return result
    }

    /// One write and its verification.
    func perform(_ step: PlanStep, current: PCIDevice?, reader: DeviceReader, observer: any ExecutionObserver) async -> StepRecord {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await observer.stepStarted(step, driverBefore: current?.driver)
        } catch {
            return StepRecord(step: step, driverBefore: current?.driver, driverAfter: current?.driver, durationNanoseconds: 0,
                              failure: StepFailure(kind: .journalFailed, message: "\(step): not written: its record could not be made durable: \(error)"))
        }
        /// Records the step's end; when that fails, the step's failure says so (and stops the plan).
        func finish(_ result: StepRecord) async -> StepRecord {
            do {
                try await observer.stepFinished(result)
                return result
            } catch {
                var unrecorded = result
                let what = result.failure.map { "failed (\($0.message))" } ?? "done"
                unrecorded.failure = StepFailure(kind: .journalFailed, message: "\(step): \(what), but its outcome could not be recorded: \(error)",
                                                 errno: result.failure?.errno)
                return unrecorded
            }
        }
        func record(_ failure: StepFailure?, after: PCIDevice?) -> StepRecord {
            let elapsed = clock.now - start
            let nanoseconds = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
            return StepRecord(step: step, driverBefore: current?.driver, driverAfter: after?.driver,
                              durationNanoseconds: nanoseconds, failure: failure)
        }
        guard current != nil else {
            return await finish(record(StepFailure(kind: .deviceGone, message: "\(step.address) is gone (no \(PCIPaths.device(step.address)))"), after: nil))
        }
        var failure: StepFailure?
        let outcome = await TimedWrite.write(step.value, to: step.attributePath, with: writer, timeout: stepTimeout)
        // Test-only (armed by the environment): the write returned (or timed out), nothing is verified or journaled yet.
        CrashPoint.reached("sysfs \(step.attributePath) \(step.value)")
        switch outcome {
        case .done:
            failure = nil
        case .timedOut:
            failure = StepFailure(kind: .timedOut, message: "\(step): writing \(root.absolute(step.attributePath)) did not return within \(stepTimeout)")
        case .failed(let error):
            if !reader.isPresent(step.address) {
                failure = StepFailure(kind: .deviceGone, message: "\(step): the device disappeared (\(error))", errno: error.errno.rawValue)
            } else if error.errno == .resourceBusy, case .bind(let driver) = step.action, !GroupViability.isIsolatingDriver(driver) {
                failure = StepFailure(kind: .kernelEnforcing, message: "\(step): the kernel refused \(driver) (EBUSY): a VFIO user still holds the group open", errno: error.errno.rawValue)
            } else {
                failure = StepFailure(kind: .writeFailed, message: "\(step): \(error)", errno: error.errno.rawValue)
            }
        }
        var after = reader.read(step.address)
        if failure == nil {
            let verification = await verify(step, reader: reader)
            after = verification.device
            failure = verification.failure
        }
        return await finish(record(failure, after: after))
    }

    /// Re-reads the device until the step's effect shows or `verifyTimeout` passes.
    func verify(_ step: PlanStep, reader: DeviceReader) async -> (device: PCIDevice?, failure: StepFailure?) {
        let clock = ContinuousClock()
        let deadline = clock.now + verifyTimeout
        var delay = Duration.microseconds(200)
        while true {
            guard let device = reader.read(step.address) else {
                return (nil, StepFailure(kind: .deviceGone, message: "\(step): the device disappeared"))
            }
            let problem = Self.mismatch(step, device)
            if problem == nil { return (device, nil) }
            // Another driver won the probe (a host driver bound in between): waiting cannot change that.
            if Self.anotherDriverWon(step, device) {
                return (device, StepFailure(kind: .claimedMeanwhile, message: "\(step): \(device.driver!) bound it meanwhile"))
            }
            if clock.now >= deadline {
                return (device, StepFailure(kind: .notVerified, message: "\(step): \(problem!)"))
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(50))
        }
    }

    /// Whether a probe or bind step expecting one driver finds the device bound to a different one.
    static func anotherDriverWon(_ step: PlanStep, _ device: PCIDevice) -> Bool {
        switch step.action {
        case .probe(let expect?):
            return device.driver.map { $0 != expect } ?? false
        case .bind(let expect):
            return device.driver.map { $0 != expect } ?? false
        default:
            return false
        }
    }

    /// What is not as the step wanted, or `nil` when the step took effect.
    static func mismatch(_ step: PlanStep, _ device: PCIDevice) -> String? {
        switch step.action {
        case .setDriverOverride(let wanted):
            return device.driverOverride == wanted ? nil : "driver_override reads \(device.driverOverride ?? "(null)")"
        case .unbind(let driver):
            return device.driver == driver ? "still bound to \(driver)" : nil
        case .probe(let expect), .bind(let expect as String?):
            return device.driver == expect ? nil : "bound to \(device.driver ?? "no driver"), expected \(expect ?? "no driver")"
        case .setDriversAutoprobe(let on):
            return device.sriov?.driversAutoprobe == on ? nil : "sriov_drivers_autoprobe reads \(device.sriov?.driversAutoprobe.map { $0 ? "1" : "0" } ?? "?")"
        case .setNumVFs(let count):
            return device.sriov?.numVFs == count ? nil : "sriov_numvfs reads \(device.sriov.map { String($0.numVFs) } ?? "?")"
        }
    }

    /// Puts each touched device back: `driver_override` as it was, then its driver (unbind what is there, bind what was).
    func rollBack(to before: [PCIAddress: PCIDevice], reader: DeviceReader, observer: any ExecutionObserver) async -> [StepRecord] {
        var records: [StepRecord] = []
        for address in before.keys.sorted().reversed() {
            let original = before[address]!
            guard let current = reader.read(address) else {
                records.append(StepRecord(step: PlanStep(address, .setDriverOverride(original.driverOverride)), driverBefore: nil,
                                          driverAfter: nil, durationNanoseconds: 0,
                                          failure: StepFailure(kind: .deviceGone, message: "\(address) is gone; nothing to put back")))
                continue
            }
            var steps: [PlanStep] = []
            if current.driverOverride != original.driverOverride { steps.append(PlanStep(address, .setDriverOverride(original.driverOverride))) }
            if current.driver != original.driver {
                if let driver = current.driver { steps.append(PlanStep(address, .unbind(from: driver))) }
                if let driver = original.driver { steps.append(PlanStep(address, .bind(to: driver))) }
            }
            if let sriov = original.sriov, current.sriov?.driversAutoprobe != sriov.driversAutoprobe, let on = sriov.driversAutoprobe {
                steps.append(PlanStep(address, .setDriversAutoprobe(on)))
            }
            for step in steps {
                let record = await perform(step, current: reader.read(address), reader: reader, observer: observer)
                records.append(record)
                if record.failure?.kind == .journalFailed { return records }
                if record.failure != nil { break }
            }
        }
        return records
    }
}
