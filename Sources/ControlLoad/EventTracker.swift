import Synchronization
import Topology

/// What the agent's event loop received, checked as it goes: SEQNUMs only grow, and every gap in them (events the
/// receive queue dropped) comes after an overflow (`ENOBUFS`) the engine answered with a resync. A gap with no
/// overflow before it is an event dropped silently.
final class EventTracker: Sendable {
    struct Counts: Sendable {
        var deviceEvents = 0
        var overflows = 0
        /// Runs of SEQNUMs never received, and how many events they held.
        var gaps = 0
        var lostEvents = 0
        var silentGaps = 0
        var outOfOrder = 0
        var lastSeqnum: UInt64?
        var problems: [String] = []
    }

    private let counts = Mutex(Counts())

    func received(_ event: MonitorEvent) {
        counts.withLock { counts in
            guard case .device(let device) = event else {
                counts.overflows += 1
                return
            }
            counts.deviceEvents += 1
            guard let seqnum = device.seqnum else { return }
            if let last = counts.lastSeqnum {
                if seqnum <= last {
                    counts.outOfOrder += 1
                    counts.problems.append("SEQNUM \(seqnum) after \(last)")
                } else if seqnum > last + 1 {
                    counts.gaps += 1
                    counts.lostEvents += Int(seqnum - last - 1)
                    // Each overflow stands for one run of dropped events (the queue stays full until the receive
                    // that reports the overflow), and is received before the run's gap shows.
                    if counts.overflows < counts.gaps {
                        counts.silentGaps += 1
                        counts.problems.append("SEQNUM \(last + 1)...\(seqnum - 1) lost without an overflow")
                    }
                }
            }
            counts.lastSeqnum = max(seqnum, counts.lastSeqnum ?? 0)
        }
    }

    var snapshot: Counts { counts.withLock { $0 } }
}
