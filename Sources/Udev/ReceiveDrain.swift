import SystemPackage
import Topology

/// What one `udev_monitor_receive_device(3)` call gave: a device's properties, or the `errno` of a `NULL` result.
public enum ReceiveResult: Sendable, Hashable {
    case device([String: String])
    case failed(Errno)
}

/// The events read from the monitor socket after `poll(2)` said it was readable, and how the read ended.
public struct ReceiveBatch: Sendable, Hashable {
    /// In receive order. `.overflow` stands for events that were lost (`ENOBUFS`) or could not be decoded.
    public var events: [MonitorEvent]
    /// Uevents whose properties did not decode, in receive order (each also produced an `.overflow`).
    public var undecodable: [UeventDecodeError]
    /// Set when the socket failed with an error other than `EAGAIN`, `EINTR` or `ENOBUFS`: the monitor stops.
    public var fatal: Errno?

    public init(events: [MonitorEvent] = [], undecodable: [UeventDecodeError] = [], fatal: Errno? = nil) {
        self.events = events
        self.undecodable = undecodable
        self.fatal = fatal
    }
}

/// The policy of the monitor thread's read loop, apart from libudev so that it can be tested without a socket.
///
/// Reads until the socket has nothing more (`EAGAIN`, the monitor socket is non-blocking):
/// - a device's properties are decoded with ``UeventDecoder``; one that does not decode becomes `.overflow`,
///   since the graph can no longer be trusted to follow the kernel without a rescan;
/// - `ENOBUFS` (the netlink receive buffer overflowed and the kernel dropped messages) becomes `.overflow`,
///   once per run of consecutive failures, and reading goes on: the socket still works;
/// - `EINTR` retries;
/// - any other error ends the batch as ``ReceiveBatch/fatal``.
///
/// `limit` bounds one batch so that a flood cannot starve the stop check between `poll(2)` calls.
public func drainReceives(limit: Int = 256, _ receive: () -> ReceiveResult) -> ReceiveBatch {
    var batch = ReceiveBatch()
    var reads = 0
    while reads < limit {
        reads += 1
        switch receive() {
        case .device(let properties):
            do {
                batch.events.append(.device(try UeventDecoder.decode(properties)))
            } catch {
                batch.undecodable.append(error)
                if batch.events.last != .overflow { batch.events.append(.overflow) }
            }
        case .failed(.resourceTemporarilyUnavailable):
            return batch
        case .failed(.interrupted):
            continue
        case .failed(.noBufferSpace):
            if batch.events.last != .overflow { batch.events.append(.overflow) }
        case .failed(let errno):
            batch.fatal = errno
            return batch
        }
    }
    return batch
}
