#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CUdev
import Synchronization
import SystemPackage
import Topology

/// PCI uevents from the kernel's netlink socket through libudev, as an `AsyncSequence` of ``MonitorEvent``.
///
/// Setup (`udev_new`, `udev_monitor_new_from_netlink`, `udev_monitor_filter_add_match_subsystem_devtype` for
/// `pci`, `udev_monitor_set_receive_buffer_size`, `udev_monitor_enable_receiving`) happens on one dedicated
/// pthread, which then `poll(2)`s the monitor's socket and an `pipe(2)` used to stop it, and reads devices
/// with `udev_monitor_receive_device(3)`. Every libudev object is created, used and freed on that thread only;
/// what leaves it are ``MonitorEvent`` values.
///
/// When the kernel drops messages because the socket's receive buffer overflowed (`ENOBUFS`), or a uevent cannot
/// be decoded, the sequence yields ``MonitorEvent/overflow``: the consumer must rescan instead of patching.
///
/// Between the thread and the consumer sits a ``BoundedEventBuffer`` of ``eventCapacity`` events: when the consumer
/// (the engine) stalls and the buffer fills, further events are dropped and the consumer gets one
/// ``MonitorEvent/overflow`` for them, as for `ENOBUFS`, so a uevent storm cannot grow the agent's memory without bound.
///
/// Stopping (``stop()``, or the end of iteration: the consuming task cancelled) wakes the thread, joins it
/// and closes the wake-up pipe; the thread frees the libudev objects before it ends. If the socket fails for good, the
/// sequence ends and ``failure`` says why.
///
/// The sequence has one consumer: iterate ``events`` (or the monitor itself) once.
public final class UdevMonitor: AsyncSequence, Sendable {
    public typealias Element = MonitorEvent
    public typealias AsyncIterator = AsyncStream<MonitorEvent>.Iterator

    /// Which netlink multicast group to listen to.
    public enum Source: String, Sendable, Hashable, CaseIterable {
        /// Events after systemd-udevd processed them (rules applied). Without a running udevd, libudev
        /// listens to nothing (it will not expose raw host events in containers) and the sequence stays silent.
        case udev
        /// Events as the kernel sends them, before udevd.
        case kernel
    }

    /// What the monitor has seen so far.
    public struct Statistics: Sendable, Hashable {
        /// Device events yielded.
        public var devices = 0
        /// Overflows yielded (`ENOBUFS`, or undecodable uevents).
        public var overflows = 0
        /// Uevents that did not decode; the last one is kept in ``lastUndecodable``.
        public var undecodable = 0
        public var lastUndecodable: UeventDecodeError?
    }

    /// The default receive buffer: 128 MiB, systemd-udevd's own choice for its monitor sockets, so that a burst
    /// (hundreds of VFs created at once) does not overflow while the consumer is busy.
    public static let defaultReceiveBufferSize = 128 * 1024 * 1024

    public let source: Source
    /// The events, in the order the socket delivered them. Iterate once.
    public let events: AsyncStream<MonitorEvent>
    let shared: MonitorThreadState
    /// The events between the thread and the consumer.
    let buffer: BoundedEventBuffer

    /// Starts the monitor thread and waits until its setup succeeded or failed.
    ///
    /// - Throws: ``UdevError`` naming the call that failed (`pipe`, `pthread_create`, `udev_new`,
    ///   `udev_monitor_new_from_netlink`, `udev_monitor_filter_add_match_subsystem_devtype`,
    ///   `udev_monitor_set_receive_buffer_size`, `udev_monitor_enable_receiving`, `udev_monitor_get_fd`) and its errno.
    public convenience init(source: Source = .udev, receiveBufferSize: Int = UdevMonitor.defaultReceiveBufferSize,
                            eventCapacity: Int = BoundedEventBuffer.defaultCapacity) throws(UdevError) {
        try self.init(source: source, sourceName: source.rawValue, receiveBufferSize: receiveBufferSize, eventCapacity: eventCapacity)
    }

    /// As the public initialiser, with any netlink source name (tests pass a bad one to see setup fail).
    init(source: Source, sourceName: String, receiveBufferSize: Int,
         eventCapacity: Int = BoundedEventBuffer.defaultCapacity) throws(UdevError) {
        self.source = source
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw UdevError(operation: "pipe", what: "stop signal", errno: Errno(rawValue: errno))
        }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        let wake = WakePipe(readFD: pipeFDs[0], writeFD: pipeFDs[1])
        let buffer = BoundedEventBuffer(capacity: eventCapacity)
        let shared = MonitorThreadState(wake: wake)
        let setup = OneShot<Result<Void, UdevError>>()
        let go = OneShot<Bool>()
        let size = Int32(clamping: receiveBufferSize)
        do throws(UdevError) {
            let thread = try startThread(named: "udev-monitor") {
                MonitorThreadState.run(sourceName: sourceName, receiveBufferSize: size, shared: shared,
                                       buffer: buffer, setup: setup, go: go)
            }
            shared.control.withLock { $0.thread = thread }
        } catch {
            wake.close()
            throw error
        }
        if case .failure(let error) = setup.wait() {
            shared.stop()
            throw error
        }
        // `onCancel` runs when the consumer's task is cancelled. It runs inside that cancellation, which must not
        // block: it only ends the buffer and wakes the thread, and the thread, finding nobody waiting to join it,
        // detaches itself.
        self.events = AsyncStream(unfolding: { await buffer.next() }, onCancel: {
            buffer.finish()
            shared.requestStop()
        })
        self.buffer = buffer
        self.shared = shared
        go.send(true)
    }

    public func makeAsyncIterator() -> AsyncStream<MonitorEvent>.Iterator {
        events.makeAsyncIterator()
    }

    /// Wakes the monitor thread through its wake-up pipe, waits for it to free the libudev objects and end
    /// (`pthread_join(3)`), and ends the sequence. Idempotent, thread-safe, blocking for as long as the thread
    /// takes to leave `poll(2)` (microseconds). Cancelling the consuming task stops the monitor too, without waiting.
    public func stop() {
        shared.stop()
    }

    /// Whether the monitor thread was told to stop (or stopped by itself after a socket failure).
    public var isStopped: Bool { shared.control.withLock { $0.stopRequested } }

    /// Whether the monitor thread has freed its libudev objects and ended (or is about to return).
    public var hasEnded: Bool { shared.control.withLock { $0.ended } }

    /// Why the sequence ended by itself: a socket or `poll(2)` error. `nil` while running and after ``stop()``.
    public var failure: UdevError? { shared.control.withLock { $0.failure } }

    public var statistics: Statistics { shared.control.withLock { $0.statistics } }

    /// Events dropped because the consumer fell ``eventCapacity`` events behind, and the overflows they became.
    public var bufferStatistics: BoundedEventBuffer.Statistics { buffer.statistics }

    /// The most events held between the monitor thread and the consumer (one more for an overflow).
    public var eventCapacity: Int { buffer.capacity }

    /// Set when the receive buffer could not be raised to the size asked for because the process may not
    /// exceed `net.core.rmem_max` (`SO_RCVBUFFORCE` needs `CAP_NET_ADMIN`): the monitor runs with the largest
    /// buffer the kernel allows it.
    public var receiveBufferLimited: UdevError? { shared.control.withLock { $0.receiveBufferLimited } }
}

/// What the monitor thread and the threads that stop it share.
///
/// Ending the thread: exactly one party releases its pthread. ``stop()`` claims the join and calls
/// `pthread_join(3)`; a thread that ends with nobody having claimed the join (the consumer just stopped
/// iterating, or the socket failed) claims it itself and calls `pthread_detach(3)`. Whoever claims it closes the
/// wake-up pipe afterwards; writes to the pipe happen under the lock and only while it is open.
final class MonitorThreadState: Sendable {
    struct Control: Sendable {
        /// The monitor thread's handle, for `pthread_join(3)`; set right after `pthread_create(3)`.
        var thread: pthread_t?
        var stopRequested = false
        /// Someone (``stop()`` or the ending thread) took charge of releasing the pthread.
        var releaseClaimed = false
        var pipeClosed = false
        var ended = false
        var failure: UdevError?
        var statistics = UdevMonitor.Statistics()
        var receiveBufferLimited: UdevError?
    }

    let control = Mutex(Control())
    /// The pipe that ends `poll(2)`.
    let wake: WakePipe
    /// Sent by the thread as its very last act: its libudev objects are freed.
    let finished = OneShot<Bool>()

    init(wake: WakePipe) {
        self.wake = wake
    }

    /// Asks the thread to end, without waiting (safe inside a task cancellation handler).
    func requestStop() {
        control.withLock { control in
            control.stopRequested = true
            if !control.pipeClosed { wake.signal() }
        }
    }

    /// Asks the thread to end and waits until it has: joins it, or, when the thread already detached itself,
    /// waits for its last signal.
    func stop() {
        let join: pthread_t? = control.withLock { control in
            control.stopRequested = true
            if !control.pipeClosed { wake.signal() }
            guard !control.releaseClaimed else { return nil }
            control.releaseClaimed = true
            return control.thread
        }
        _ = finished.wait()
        if let join {
            pthread_join(join, nil)
            control.withLock { control in
                control.pipeClosed = true
                wake.close()
            }
        }
    }

    /// The monitor thread's body: setup, report, wait for the go-ahead, then poll and read until told to stop.
    static func run(
        sourceName: String, receiveBufferSize: Int32, shared: MonitorThreadState,
        buffer: BoundedEventBuffer,
        setup: OneShot<Result<Void, UdevError>>, go: OneShot<Bool>
    ) {
        let failure = withMonitor(sourceName: sourceName, receiveBufferSize: receiveBufferSize, shared: shared, setup: setup) { monitor, fd in
            _ = go.wait()
            return pollLoop(monitor: monitor, fd: fd, sourceName: sourceName, shared: shared, buffer: buffer)
        }
        // libudev objects are freed by now.
        if let failure { shared.control.withLock { $0.failure = failure } }
        buffer.finish()
        shared.control.withLock { control in
            control.ended = true
            if !control.releaseClaimed {
                control.releaseClaimed = true
                pthread_detach(pthread_self())
                control.pipeClosed = true
                shared.wake.close()
            }
        }
        shared.finished.send(true)
    }

    /// Creates the libudev context and monitor, reports the setup result, runs `body`, and frees both objects
    /// (`udev_monitor_unref`, `udev_unref`) before returning. Returns a setup or run failure.
    static func withMonitor(
        sourceName: String, receiveBufferSize: Int32, shared: MonitorThreadState, setup: OneShot<Result<Void, UdevError>>,
        body: (OpaquePointer, Int32) -> UdevError?
    ) -> UdevError? {
        func fail(_ operation: String, _ what: String, _ code: Int32) -> UdevError? {
            let error = UdevError(operation: operation, what: what, errno: Errno(rawValue: code == 0 ? EINVAL : code))
            setup.send(.failure(error))
            return error
        }
        errno = 0
        guard let udev = udev_new() else { return fail("udev_new", "library context", errno) }
        defer { udev_unref(udev) }
        errno = 0
        guard let monitor = udev_monitor_new_from_netlink(udev, sourceName) else {
            return fail("udev_monitor_new_from_netlink", "source \(sourceName)", errno)
        }
        defer { udev_monitor_unref(monitor) }
        var result = udev_monitor_filter_add_match_subsystem_devtype(monitor, "pci", nil)
        if result < 0 { return fail("udev_monitor_filter_add_match_subsystem_devtype", "subsystem pci", -result) }
        result = udev_monitor_set_receive_buffer_size(monitor, receiveBufferSize)
        if result == -EPERM {
            // Not privileged to exceed net.core.rmem_max (SO_RCVBUFFORCE): the buffer is as large as the kernel
            // allows an unprivileged socket. Overflows are more likely but still reported; not a setup failure.
            let note = UdevError(operation: "udev_monitor_set_receive_buffer_size", what: "size \(receiveBufferSize)",
                                 errno: .notPermitted)
            shared.control.withLock { $0.receiveBufferLimited = note }
        } else if result < 0 {
            return fail("udev_monitor_set_receive_buffer_size", "size \(receiveBufferSize)", -result)
        }
        result = udev_monitor_enable_receiving(monitor)
        if result < 0 { return fail("udev_monitor_enable_receiving", "source \(sourceName)", -result) }
        let fd = udev_monitor_get_fd(monitor)
        if fd < 0 { return fail("udev_monitor_get_fd", "source \(sourceName)", -fd) }
        setup.send(.success(()))
        return body(monitor, fd)
    }

    /// Polls the monitor socket and the wake-up pipe; drains the socket whenever it is readable.
    static func pollLoop(
        monitor: OpaquePointer, fd: Int32, sourceName: String, shared: MonitorThreadState,
        buffer: BoundedEventBuffer
    ) -> UdevError? {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: shared.wake.readFD, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return UdevError(operation: "poll", what: "udev monitor socket", errno: Errno(rawValue: errno))
            }
            if fds[1].revents != 0 { return nil }
            guard fds[0].revents != 0 else { continue }
            // POLLERR on a netlink socket means a pending ENOBUFS, which the next receive reports.
            let batch = drainReceives { receiveDevice(monitor) }
            shared.control.withLock { control in
                for event in batch.events {
                    if case .overflow = event { control.statistics.overflows += 1 } else { control.statistics.devices += 1 }
                }
                control.statistics.undecodable += batch.undecodable.count
                if let last = batch.undecodable.last { control.statistics.lastUndecodable = last }
            }
            for event in batch.events {
                if !buffer.push(event) { return nil }
            }
            if let fatal = batch.fatal {
                return UdevError(operation: "udev_monitor_receive_device", what: "source \(sourceName)", errno: fatal)
            }
        }
    }

    /// One `udev_monitor_receive_device(3)`: the device's properties (`udev_device_get_properties_list_entry`),
    /// or the errno of a `NULL` result. The device is released (`udev_device_unref`) before returning.
    static func receiveDevice(_ monitor: OpaquePointer) -> ReceiveResult {
        errno = 0
        guard let device = udev_monitor_receive_device(monitor) else {
            return .failed(Errno(rawValue: errno == 0 ? EAGAIN : errno))
        }
        defer { udev_device_unref(device) }
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = udev_list_entry_get_name(current) {
                properties[String(cString: name)] = udev_list_entry_get_value(current).map { String(cString: $0) } ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        return .device(properties)
    }
}

/// A pipe whose read end the monitor thread polls; a byte written to it ends the `poll(2)`.
struct WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    /// `write(2)` one byte.
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// `close(2)` both ends.
    func close() {
        _ = Glibc.close(readFD)
        _ = Glibc.close(writeFD)
    }
}
