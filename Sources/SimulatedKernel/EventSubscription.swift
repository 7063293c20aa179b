import Synchronization
import Topology

/// One subscriber's receive queue, behaving like a netlink socket's receive buffer: events queue up to
/// `limit`; an event that finds the queue full is dropped and the next receive reports the loss
/// (`recvmsg` returning `ENOBUFS`, which libudev's monitor passes on) as ``MonitorEvent/overflow``,
/// ahead of the events still queued.
final class EventSubscription: Sendable {
    struct Queue: ~Copyable {
        var items: [MonitorEvent] = []
        var head = 0
        var lost = false
        var finished = false
        var waiter: CheckedContinuation<MonitorEvent?, Never>?
        let limit: Int?

        var count: Int { items.count - head }

        mutating func pop() -> MonitorEvent? {
            if lost {
                lost = false
                return .overflow
            }
            guard head < items.count else { return nil }
            let event = items[head]
            head += 1
            if head > 256 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    let queue: Mutex<Queue>

    init(limit: Int?) {
        queue = Mutex(Queue(limit: limit))
    }

    /// Queues an event (or hands it to a waiting receiver). Device events beyond the limit are dropped and
    /// remembered as a loss; an explicit `.overflow` is always queued.
    func deliver(_ event: MonitorEvent) {
        let waiter: CheckedContinuation<MonitorEvent?, Never>? = queue.withLock { queue in
            if queue.finished { return nil }
            if let waiter = queue.waiter, queue.count == 0, !queue.lost {
                queue.waiter = nil
                return waiter
            }
            if case .device = event, let limit = queue.limit, queue.count >= limit {
                queue.lost = true
                return nil
            }
            queue.items.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the stream: a waiting receiver gets `nil`.
    func finish() {
        let waiter = queue.withLock { queue in
            queue.finished = true
            defer { queue.waiter = nil }
            return queue.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, waiting for one; `nil` once finished or cancelled.
    func next() async -> MonitorEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<MonitorEvent?, Never>) in
                let ready: MonitorEvent?? = queue.withLock { queue in
                    if let event = queue.pop() { return .some(event) }
                    if queue.finished || Task.isCancelled { return .some(nil) }
                    queue.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}

/// Unsubscribes when the stream that owns it is released (the `events()` caller stopped listening).
final class SubscriptionToken: Sendable {
    let release: @Sendable () -> Void
    init(release: @escaping @Sendable () -> Void) { self.release = release }
    deinit { release() }
}
