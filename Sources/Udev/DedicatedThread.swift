#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The closure a new pthread runs, boxed so that it can pass through `pthread_create(3)`'s `void *` argument.
private final class ThreadEntry {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Starts `body` on a new joinable pthread (`pthread_create(3)`) and returns its handle. The caller joins it
/// (`pthread_join(3)`) or it detaches itself (`pthread_detach(3)`).
///
/// FoundationEssentials has no `Thread`; the udev monitor needs a thread of its own because libudev objects
/// are not thread-safe and `poll(2)` blocks.
func startThread(named name: String, _ body: @escaping @Sendable () -> Void) throws(UdevError) -> pthread_t {
    let entry = Unmanaged.passRetained(ThreadEntry(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        let entry = Unmanaged<ThreadEntry>.fromOpaque(argument!).takeRetainedValue()
        entry.body()
        return nil
    }, entry)
    guard result == 0 else {
        Unmanaged<ThreadEntry>.fromOpaque(entry).release()
        throw UdevError(operation: "pthread_create", what: name, errno: Errno(rawValue: result))
    }
    return thread
}

/// A one-shot signal between two threads (the monitor thread's setup result, and the go-ahead it waits for),
/// on `pthread_mutex_t` and `pthread_cond_t`.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    // Guarded by `mutex`; the pointers are allocated once and never move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var value: Value?

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Hands `value` to the waiter; only the first call counts.
    func send(_ newValue: Value) {
        pthread_mutex_lock(mutex)
        if value == nil { value = newValue }
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Blocks the calling thread until ``send(_:)`` was called, and returns what was sent.
    func wait() -> Value {
        pthread_mutex_lock(mutex)
        while value == nil { pthread_cond_wait(condition, mutex) }
        let result = value!
        pthread_mutex_unlock(mutex)
        return result
    }
}
