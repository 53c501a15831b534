#if canImport(Glibc)
import Glibc
#endif

/// Lowers the CPU priority of the calling thread, for background stages that must not take
/// the processor from the thread every write waits for.
///
/// ledgerd's durable commits run on one thread, one batch at a time; every client waits on it.
/// The projection and the WAL checkpoint run in bursts (one SQLite transaction of many batches,
/// one checkpoint of many pages) and, at equal priority, preempted the commit thread on a
/// 2-core machine. At nice 10 they still get the CPU the commit thread leaves (and their share
/// when the processor is saturated), so they keep up; measured in docs/performance.md.
public enum BackgroundPriority {
    /// The nice value of background stages.
    public static let niceValue: Int32 = 10

    /// Applies ``niceValue`` to the calling thread (Linux: the nice value is per thread, and
    /// `PRIO_PROCESS` with id 0 names the caller). Raising one's own nice value needs no
    /// privilege; a failure leaves the priority as it was, which is only slower.
    public static func applyToCurrentThread() {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceValue)
        #endif
    }
}
