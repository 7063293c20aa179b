import Dispatch
import Synchronization
import SystemPackage
import Sysfs

/// A gate a write can be held at: a hanging `unbind` (a driver's `remove()` that waits for its user)
/// blocks the writing thread until ``release()`` is called or the gate's timeout passes.
public final class WriteGate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let state = Mutex((released: false, waiting: 0, arrivals: 0))
    /// How long a blocked writer waits at most; `nil` waits until released.
    public let timeout: Duration?

    public init(timeout: Duration? = nil) {
        self.timeout = timeout
    }

    /// Lets every blocked writer (and every later one) through.
    public func release() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.waiting = 0 }
            return state.waiting
        }
        for _ in 0..<waiting { semaphore.signal() }
    }

    /// How many writers have reached the gate so far (blocked or let through).
    public var arrivals: Int { state.withLock { $0.arrivals } }

    /// Whether a writer is blocked at the gate now.
    public var isHoldingAWriter: Bool { state.withLock { $0.waiting > 0 } }

    /// Blocks the calling thread until released or timed out.
    func pass() {
        let mustWait = state.withLock { state in
            state.arrivals += 1
            if state.released { return false }
            state.waiting += 1
            return true
        }
        guard mustWait else { return }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            if semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
                // Nobody signalled for this waiter: take it off the count, unless a release raced us and
                // signalled; then consume that signal so the semaphore stays balanced.
                let raced = state.withLock { state in
                    if state.released { return true }
                    state.waiting -= 1
                    return false
                }
                if raced { semaphore.wait() }
            }
        } else {
            semaphore.wait()
        }
    }
}

/// Something that goes wrong with a write to one sysfs file, on demand.
public enum WriteFault: Sendable {
    /// The write fails with this errno and changes nothing (the store function returned `-errno`).
    case fail(Errno)
    /// The write blocks at the gate, then takes effect (a driver's `remove()` stuck waiting, so `unbind` hangs).
    case hang(WriteGate)
    /// The device is removed (surprise removal: `unbind`, `remove` events) right before the write is handled,
    /// so the write meets a device that is gone.
    case removeDeviceBefore(PCIAddress)
    /// The write takes effect, then the device is removed right after it.
    case removeDeviceAfter(PCIAddress)
}

/// Whether a fault fires on the next matching write only, or on every one until cleared.
public enum FaultPersistence: Sendable, Hashable {
    /// The next matching write only.
    case once
    /// Every matching write until ``SimulatedKernel/clearFaults()``.
    case always
}

/// A write that reached the simulated kernel: where, what, and the errno it failed with (`nil` on success).
public struct RecordedWrite: Sendable, Hashable {
    /// The path relative to the root, normalised (`bus/pci/drivers/e1000/unbind`).
    public var path: String
    /// What was written, as given.
    public var value: String
    /// The error the write failed with, `nil` when it succeeded.
    public var errno: Errno?
}

struct ArmedFault {
    var fault: WriteFault
    var persistence: FaultPersistence
}
