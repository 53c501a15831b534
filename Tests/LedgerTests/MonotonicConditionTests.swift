import Foundation
import Ledger
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct MonotonicConditionTests {
    /// The point of the type: `NSCondition`'s timed waits take a `CLOCK_REALTIME` deadline.
    @Test func timedWaitsRunOnTheMonotonicClock() {
        #if canImport(Glibc)
        #expect(MonotonicCondition().clock == CLOCK_MONOTONIC)
        #endif
    }

    @Test func aTimedWaitNobodySignalsEndsWhenTheTimeIsUp() async throws {
        let (signaled, waited) = await onAThreadOfItsOwn { () -> (Bool, Duration) in
            let condition = MonotonicCondition()
            let started = ContinuousClock.now
            condition.lock()
            // Waits may end spuriously; a woken waiter re-checks, as users of the type do.
            var signaled = true
            while signaled && ContinuousClock.now - started < .milliseconds(100) {
                signaled = condition.wait(for: .milliseconds(100) - (ContinuousClock.now - started))
            }
            condition.unlock()
            return (signaled, ContinuousClock.now - started)
        }
        #expect(!signaled)
        #expect(waited >= .milliseconds(100))
    }

    @Test func aSignalEndsATimedWaitEarly() async throws {
        let (woken, waited) = await onAThreadOfItsOwn { () -> (Bool, Duration) in
            let condition = MonotonicCondition()
            nonisolated(unsafe) var ready = false
            let signaller = Thread {
                usleep(50_000)
                condition.lock()
                ready = true
                condition.signal()
                condition.unlock()
            }
            let started = ContinuousClock.now
            condition.lock()
            signaller.start()
            var woken = false
            while !ready && ContinuousClock.now - started < .seconds(60) { woken = condition.wait(for: .seconds(60)) }
            condition.unlock()
            return (woken && ready, ContinuousClock.now - started)
        }
        #expect(woken)
        #expect(waited < .seconds(30))
    }

    @Test func aTimeoutOfZeroOrLessDoesNotWait() {
        let condition = MonotonicCondition()
        condition.lock()
        #expect(condition.wait(for: .zero) == false)
        #expect(condition.wait(for: .milliseconds(-5)) == false)
        condition.unlock()
    }

    /// Runs `body` on a new thread: these waits block, and the cooperative pool has two threads.
    private func onAThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
