import ArgumentParser
import Reports
import Sysfs
import Topology
import Udev

/// `vfio-warden watch`: scan the graph, then print each PCI uevent and what it changed in the graph.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print PCI uevents as they arrive, and what each one changed in the device and IOMMU group graph.",
        discussion: """
            Starts the udev monitor (libudev, netlink; PCI events only), scans the devices under --sysfs-root, \
            then follows the monitor. For each event it prints the action, address, driver and sequence number, then one \
            line per device whose fields changed (old → new; an unbind shows the driver the device had) and \
            per group whose members or viability changed. When the socket's receive buffer overflowed and \
            events were lost, the whole graph is rescanned and the difference printed as a resync.

            Nothing is written anywhere: watch only reads sysfs and listens.

            Examples:
              vfio-warden watch
              vfio-warden watch --json --count 10 > events.jsonl
              vfio-warden watch --sysfs-root /tmp/tree --replay events.jsonl
            """
    )

    /// Which netlink group to listen to (the udev monitor's `udev_monitor_new_from_netlink` name).
    enum Source: String, ExpressibleByArgument, CaseIterable {
        case udev, kernel

        var monitorSource: UdevMonitor.Source {
            switch self {
            case .udev: .udev
            case .kernel: .kernel
            }
        }
    }

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp(
        "Listen to events after systemd-udevd processed them (udev, the default), or as the kernel sent them (kernel). Without a running udevd, 'udev' receives nothing.",
        valueName: "udev|kernel"))
    var source: Source?

    @Flag(help: "Print one JSON object per line: action, address, driver, seqnum, devpath and changes {devices, groups}; a resync prints {\"overflow\": true, \"changes\": …}.")
    var json = false

    @Option(help: ArgumentHelp("Exit (status 0) after this many device events; resyncs do not count.", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Exit (status 0) after this many seconds, whatever arrived.", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp(
        "Read recorded events from this file instead of the udev monitor, one JSON event per line (lines printed by `watch --json` replay as they are; {\"overflow\": true} forces a resync); '-' reads standard input. Exits at end of file.",
        valueName: "file"))
    var replay: String?

    @Option(name: .customLong("receive-buffer"), help: ArgumentHelp(
        "Size in bytes of the monitor socket's receive buffer (udev_monitor_set_receive_buffer_size).", valueName: "bytes"))
    var receiveBuffer: Int = UdevMonitor.defaultReceiveBufferSize

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let timeout, !(timeout > 0) || !timeout.isFinite { throw ValidationError("--timeout must be a positive number of seconds") }
        if replay != nil && source != nil { throw ValidationError("--source and --replay cannot be combined: a replay has no monitor") }
        if receiveBuffer < 4096 { throw ValidationError("--receive-buffer must be at least 4096 bytes") }
    }

    func run() async throws {
        let resolved = try global.resolvedRoot()
        // An unpacked tarball must outlive the whole watch, not just the last use of `resolved`.
        defer { withExtendedLifetime(resolved) {} }
        let root = resolved.root
        let format: WatchPrinter.Format = json ? .json : .human
        let limit = count
        if let replay {
            let follower = try GraphFollower(root: root)
            let events = try EventReplay.events(path: replay)
            WatchPrinter.note("watching \(follower.graph.devices.count) devices in \(follower.graph.groups.count) groups under \(root); replaying \(replay == "-" ? "standard input" : replay)")
            try await Self.withTimeout(timeout) {
                var follower = follower
                try await WatchPrinter.follow(events, with: &follower, format: format, count: limit)
            }
        } else {
            let source = (source ?? .udev).monitorSource
            let monitor = try UdevMonitor(source: source, receiveBufferSize: receiveBuffer)
            defer { monitor.stop() }
            // Scanned after the socket listens: an event in between is queued and re-applied, never missed.
            let follower = try GraphFollower(root: root)
            WatchPrinter.note("watching \(follower.graph.devices.count) devices in \(follower.graph.groups.count) groups under \(root); listening to \(source.rawValue) events")
            if source == .udev && !Self.udevdIsRunning {
                WatchPrinter.note("warning: no udevd seems to run (/run/udev/control is missing): libudev delivers no 'udev' events without one; try --source kernel")
            }
            if let limited = monitor.receiveBufferLimited {
                WatchPrinter.note("warning: \(limited); the socket keeps the largest buffer net.core.rmem_max allows")
            }
            try await Self.withTimeout(timeout) {
                var follower = follower
                let complete = try await WatchPrinter.follow(monitor.events, with: &follower, format: format, count: limit)
                if !complete, !Task.isCancelled, let failure = monitor.failure { throw failure }
            }
        }
    }

    /// Whether systemd-udevd's control socket exists, as libudev itself checks before subscribing to `udev` events.
    static var udevdIsRunning: Bool {
        SysfsRoot("/run/udev").existsWithoutFollowing("control")
    }

    /// Runs `body`, cancelling it after `seconds` (which then counts as success).
    static func withTimeout(_ seconds: Double?, _ body: @escaping @Sendable () async throws -> Void) async throws {
        guard let seconds else { return try await body() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                // Cancelled when the body ends first.
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}

/// Applies events to the graph and prints them; separated from argument parsing for reading clarity.
enum WatchPrinter {
    enum Format { case human, json }

    /// Follows `events` until they end, `count` device events were printed, or the task is cancelled.
    /// Returns whether it stopped because of `count`.
    @discardableResult
    static func follow<Events: AsyncSequence>(
        _ events: Events, with follower: inout GraphFollower, format: Format, count: Int?
    ) async throws -> Bool where Events.Element == MonitorEvent {
        var seen = 0
        for try await event in events {
            let step = try follower.follow(event)
            let lines: [String]
            switch (step, format) {
            case (.device(let event, let change), .human): lines = EventReport.humanLines(event: event, change: change)
            case (.device(let event, let change), .json): lines = [EventReport.jsonLine(event: event, change: change)]
            case (.resync(let change), .human): lines = EventReport.humanResyncLines(change: change)
            case (.resync(let change), .json): lines = [EventReport.jsonResyncLine(change: change)]
            }
            // One write(2) per event, unbuffered: a reader of a pipe sees each event at once.
            StandardOutput.write(lines.joined(separator: "\n") + "\n")
            if case .device = step {
                seen += 1
                if let count, seen >= count { return true }
            }
        }
        return false
    }

    /// A status line on standard error (standard output carries only events).
    static func note(_ text: String) {
        StandardError.write(text + "\n")
    }
}
