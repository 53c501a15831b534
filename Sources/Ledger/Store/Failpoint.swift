#if canImport(Glibc)
import Glibc
#endif

/// Crash points for the torture tests: with `LEDGERD_FAILPOINT=<name>` in the environment, the
/// process kills itself with SIGKILL (exactly what kill -9 does: no cleanup, no flush) the
/// `LEDGERD_FAILPOINT_HIT`-th time (default: first) it passes that point. Read once at startup;
/// with the variable unset a check is one comparison.
public enum Failpoint: String, Sendable, CaseIterable {
    /// After the LMDB commit of a batch, before its projection apply.
    case afterCommit = "after-commit"
    /// Inside the projection's SQLite transaction, halfway through a batch.
    case midProjection = "mid-projection"
    /// After the projection apply, before any request of the batch is answered.
    case afterApply = "after-apply"
    /// During a rebuild's swap: the new generation is complete, the live link not yet swapped.
    case rebuildSwap = "rebuild-swap"
    /// Inside a write-back of head state to the state environment, halfway through, uncommitted.
    case midWriteBack = "mid-write-back"

    private static let armed: (Failpoint, Int)? = {
        guard let name = getenv("LEDGERD_FAILPOINT").map({ String(cString: $0) }), let point = Failpoint(rawValue: name) else { return nil }
        let hit = getenv("LEDGERD_FAILPOINT_HIT").flatMap { Int(String(cString: $0)) } ?? 1
        return (point, max(1, hit))
    }()

    private static let passes = PassCounter()

    /// Dies here if this failpoint is armed and its hit count is reached.
    @inline(__always)
    public func check() {
        guard let (point, hit) = Self.armed, point == self else { return }
        if Self.passes.increment() >= hit {
            kill(getpid(), SIGKILL)
        }
    }
}

/// A counter shared by every thread passing a failpoint.
private final class PassCounter: @unchecked Sendable {
    private var count = 0
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func increment() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        count += 1
        return count
    }
}
