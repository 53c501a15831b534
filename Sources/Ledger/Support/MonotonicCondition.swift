#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex and condition variable whose timed waits run on the monotonic clock.
///
/// Foundation's `NSCondition.wait(until:)` on Linux waits for an absolute `CLOCK_REALTIME`
/// deadline (strace shows `FUTEX_CLOCK_REALTIME`), so a wall clock stepped back while a thread
/// waits (NTP's first sync on a fresh VM, a resumed VM) stretches the wait by the size of the
/// step. A projection linger of 20 ms could then last a minute. Here the deadline is taken on
/// `CLOCK_MONOTONIC`, which no clock adjustment moves.
///
/// Use it like `NSCondition`: take the lock, wait in a loop that re-checks the predicate (waits
/// may end spuriously), unlock.
public final class MonotonicCondition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// The clock the condition's timed waits use, as the C library reports it back.
    public let clock: clockid_t

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        var chosen = clockid_t()
        pthread_condattr_getclock(&attributes, &chosen)
        clock = chosen
        #else
        clock = CLOCK_REALTIME
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }

    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Waits until signaled (or woken spuriously). Call with the lock held.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits until signaled (or woken spuriously), or until `timeout` has passed on the
    /// monotonic clock. Call with the lock held.
    ///
    /// - Parameter timeout: How long to wait at most; zero or less returns at once.
    /// - Returns: False when the wait ended because the time was up.
    @discardableResult
    public func wait(for timeout: Duration) -> Bool {
        guard timeout > .zero else { return false }
        var deadline = timespec()
        clock_gettime(clock, &deadline)
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        // Clamped so that an "endless" timeout cannot overflow the deadline (2^40 s: 34,000 years).
        deadline.tv_sec += Int(min(seconds, 1 << 40)) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }

    /// Wakes one waiting thread.
    public func signal() { pthread_cond_signal(condition) }

    /// Wakes every waiting thread.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
