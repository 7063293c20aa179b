import Foundation
import SimulatedKernel
import Sysfs
import Topology

/// The kernel side of a load run, on a thread of its own: a PF's VFs created and removed over and over (the PF
/// driver's `sriov_configure`, `add`/`remove`/`unbind` uevents), and now and then a host driver claiming a member
/// of the assigned group (`unbind` from vfio-pci, `bind` to its own driver), which the agent must undo.
struct EventStorm {
    let kernel: SimulatedKernel
    let pf: PCIAddress
    let vfsPerCycle: Int
    /// Stop once the storm's own happenings emitted this many uevents.
    let events: Int
    /// A claim after every this many storm uevents.
    let claimEvery: Int
    /// Members of the assigned group, and the host driver that claims each.
    let claims: [(address: PCIAddress, driver: String)]

    struct Outcome: Sendable {
        var events = 0
        var cycles = 0
        var claims = 0
        var seconds = 0.0
        var problems: [String] = []
    }

    /// `progress` is told the uevents emitted so far after each VF cycle.
    func run(progress: (Int) -> Void = { _ in }) -> Outcome {
        var outcome = Outcome()
        let started = Date()
        var nextClaim = claimEvery
        // The agent created the VFs at start ([[sriov]] rule): remove first.
        var enabled = true
        while outcome.events < events {
            do {
                outcome.events += try kernel.setNumVFs(pf, to: enabled ? 0 : vfsPerCycle).count
                enabled.toggle()
                outcome.cycles += 1
                progress(outcome.events)
            } catch {
                outcome.problems.append("sriov_configure \(pf) → \(enabled ? 0 : vfsPerCycle): \(error)")
                break
            }
            if outcome.events >= nextClaim, !claims.isEmpty {
                nextClaim += claimEvery
                let (address, driver) = claims[outcome.claims % claims.count]
                if let taken = try? kernel.bind(address, driver: driver) {
                    outcome.events += taken.count
                    outcome.claims += 1
                }
            }
        }
        // End with the VFs there, so that the run can check that each ended on vfio-pci.
        if !enabled, outcome.problems.isEmpty {
            do {
                outcome.events += try kernel.setNumVFs(pf, to: vfsPerCycle).count
                outcome.cycles += 1
            } catch {
                outcome.problems.append("sriov_configure \(pf) → \(vfsPerCycle): \(error)")
            }
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }
}
