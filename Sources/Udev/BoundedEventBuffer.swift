import Synchronization
import Topology

/// The agent's in-process buffer between the udev monitor thread and the engine: at most ``capacity`` events, so a
/// storm of uevents against a stalled engine cannot grow memory without bound.
///
/// When a device event finds the buffer full it is dropped, and the loss becomes ``MonitorEvent/overflow``, the same
/// event a netlink `ENOBUFS` gives: the engine rescans the whole graph and journals the resync. The overflow takes one
/// slot past the capacity, after the events still buffered (they are older than the loss, so the rescan comes after
/// them); every further loss while that overflow is still the newest entry folds into it, so a storm of any length
/// costs one resync. The buffer never holds more than `capacity + 1` events.
///
/// One producer (the monitor thread, which never blocks on it) and one consumer (``next()``).
public final class BoundedEventBuffer: Sendable {
    /// 4,096 events: a burst of 1,000 VFs created at once (an add and a bind each, about 2,000 uevents) fits with room
    /// to spare, while a full buffer of decoded events stays at a few MiB. The kernel's receive buffer
    /// (``UdevMonitor/defaultReceiveBufferSize``) absorbs bursts before this one.
    public static let defaultCapacity = 4_096

    /// What the buffer has done so far.
    public struct Statistics: Sendable, Hashable {
        /// Device events dropped because the buffer was full (each folded into an overflow).
        public var dropped = 0
        /// Overflows queued for losses in this buffer (not those the kernel reported).
        public var overflowsQueued = 0
        /// The most events held at once.
        public var highWater = 0
    }

    struct State: ~Copyable {
        var items: [MonitorEvent] = []
        var head = 0
        var finished = false
        var waiter: CheckedContinuation<MonitorEvent?, Never>?
        var statistics = Statistics()

        var count: Int { items.count - head }

        mutating func pop() -> MonitorEvent? {
            guard head < items.count else { return nil }
            let event = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 256 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    public let capacity: Int
    let state = Mutex(State())

    public init(capacity: Int = BoundedEventBuffer.defaultCapacity) {
        precondition(capacity > 0, "an event buffer holds at least one event")
        self.capacity = capacity
    }

    /// Queues `event`, or hands it to a waiting consumer; never blocks. A device event that finds the buffer full
    /// is dropped and an overflow queued in its place (unless the newest entry already is one); an overflow is
    /// queued unless the newest entry already is one. Returns `false` once the buffer is finished (the consumer left).
    @discardableResult
    public func push(_ event: MonitorEvent) -> Bool {
        let delivery: (CheckedContinuation<MonitorEvent?, Never>, MonitorEvent)?? = state.withLock { state in
            if state.finished { return .some(nil) }
            if let waiter = state.waiter, state.count == 0 {
                state.waiter = nil
                return .some((waiter, event))
            }
            let newestIsOverflow = state.count > 0 && state.items[state.items.count - 1] == .overflow
            switch event {
            case .overflow where newestIsOverflow:
                break
            case .device where state.count >= capacity:
                state.statistics.dropped += 1
                if !newestIsOverflow {
                    state.items.append(.overflow)
                    state.statistics.overflowsQueued += 1
                }
            default:
                state.items.append(event)
            }
            state.statistics.highWater = max(state.statistics.highWater, state.count)
            return nil
        }
        switch delivery {
        case .some(.none): return false
        case .some(.some((let waiter, let event))): waiter.resume(returning: event)
        case .none: break
        }
        return true
    }

    /// Ends the buffer: a waiting consumer gets `nil` once the events still queued are taken; later pushes are refused.
    public func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, waiting for one; `nil` once finished and drained, or when the waiting task is cancelled.
    public func next() async -> MonitorEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<MonitorEvent?, Never>) in
                let ready: MonitorEvent?? = state.withLock { state in
                    if let event = state.pop() { return .some(event) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Events held now.
    public var count: Int { state.withLock { $0.count } }

    public var statistics: Statistics { state.withLock { $0.statistics } }
}
