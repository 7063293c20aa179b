import Dispatch
import Sysfs

/// A sysfs write with a deadline. The kernel can block a write indefinitely (an `unbind` whose driver's
/// `remove()` hangs), so each write runs on a dispatch worker and the caller stops waiting after `timeout`.
/// A timed-out write may still be blocked in the kernel: the worker is abandoned, never killed.
enum TimedWrite {
    enum Outcome: Sendable {
        case done
        case failed(SysfsError)
        case timedOut
    }

    static func write(_ value: String, to path: String, with writer: any SysfsAttributeWriter, timeout: Duration) async -> Outcome {
        let state = RaceState()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            DispatchQueue.global().async {
                let outcome: Outcome
                do throws(SysfsError) {
                    try writer.write(value, to: path)
                    outcome = .done
                } catch {
                    outcome = .failed(error)
                }
                if state.claim() { continuation.resume(returning: outcome) }
            }
            let nanoseconds = UInt64(timeout.components.seconds) * 1_000_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
                if state.claim() { continuation.resume(returning: .timedOut) }
            }
        }
    }
}

/// Whoever claims first resumes the continuation; the other does nothing.
private final class RaceState: @unchecked Sendable {
    private let lock = DispatchQueue(label: "vfio-warden.timed-write")
    private var claimed = false

    func claim() -> Bool {
        lock.sync {
            defer { claimed = true }
            return !claimed
        }
    }
}
