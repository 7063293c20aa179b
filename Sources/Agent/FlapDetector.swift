import Sysfs

/// Notices a fight with another tool over one device (issue 12, item 22): each repair of a device a host driver took
/// back counts; `threshold` repairs within `window` make the device *flapping*, journaled once per episode. Repairs
/// go on, each after a back-off that doubles from `initialBackoff` up to `maximumBackoff`; an episode ends once no
/// repair was needed for a whole `window`.
///
/// A value driven by the caller's clock (`now` as a monotonic ``Duration`` since any origin), so that tests inject
/// time. Not thread-safe by itself: the ``Engine`` actor owns it.
public struct FlapDetector: Sendable {
    public struct Settings: Sendable, Hashable {
        public var threshold: Int
        public var window: Duration
        public var initialBackoff: Duration
        public var maximumBackoff: Duration

        /// 5 fights in a minute; back-off from 1 s, at most 30 s.
        public init(threshold: Int = 5, window: Duration = .seconds(60), initialBackoff: Duration = .seconds(1),
                    maximumBackoff: Duration = .seconds(30)) {
            precondition(threshold > 0 && initialBackoff <= maximumBackoff)
            self.threshold = threshold
            self.window = window
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }
    }

    /// What to do about one fight.
    public enum Decision: Sendable, Equatable {
        /// Repair now.
        case repair
        /// Repair now; the device just became flapping: journal it once, with the fights counted and the back-off.
        case repairAndReportFlapping(fights: Int, backoff: Duration)
        /// Flapping: repair no sooner than `at` (the caller schedules it).
        case deferUntil(Duration)
    }

    /// A device in a flapping episode, as `status` shows it.
    public struct Episode: Sendable, Hashable {
        public var address: PCIAddress
        /// Repairs within the window.
        public var fights: Int
        public var backoff: Duration
        /// When the next repair may happen (same clock as `now`).
        public var nextRepair: Duration
    }

    private struct DeviceState: Sendable {
        var fights: [Duration] = []
        var flapping = false
        var backoff: Duration = .zero
        var nextRepair: Duration = .zero
    }

    public let settings: Settings
    private var devices: [PCIAddress: DeviceState] = [:]

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// A host driver took `address` back and a repair is planned, at time `now`.
    public mutating func fight(_ address: PCIAddress, at now: Duration) -> Decision {
        var state = expire(devices[address] ?? DeviceState(), at: now)
        defer { devices[address] = state }
        if state.flapping && now < state.nextRepair { return .deferUntil(state.nextRepair) }
        state.fights.append(now)
        if !state.flapping {
            guard state.fights.count >= settings.threshold else { return .repair }
            state.flapping = true
            state.backoff = settings.initialBackoff
            state.nextRepair = now + state.backoff
            return .repairAndReportFlapping(fights: state.fights.count, backoff: state.backoff)
        }
        state.backoff = min(state.backoff * 2, settings.maximumBackoff)
        state.nextRepair = now + state.backoff
        return .repair
    }

    /// The devices in a flapping episode at `now`, in address order.
    public func episodes(at now: Duration) -> [Episode] {
        devices.keys.sorted().compactMap { address in
            let state = expire(devices[address]!, at: now)
            guard state.flapping else { return nil }
            return Episode(address: address, fights: state.fights.count, backoff: state.backoff, nextRepair: state.nextRepair)
        }
    }

    /// Forgets fights older than the window; an episode with no fight left in it is over.
    private func expire(_ state: DeviceState, at now: Duration) -> DeviceState {
        var state = state
        state.fights.removeAll { now - $0 > settings.window }
        if state.flapping && state.fights.isEmpty { state = DeviceState() }
        return state
    }
}
