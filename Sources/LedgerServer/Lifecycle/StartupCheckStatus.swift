import Synchronization

/// Where the background `PRAGMA quick_check` of the projection stands, for `GET /v1/status`:
/// operators (and the bench, before it measures) can tell when ledgerd has finished reading
/// every page of its projection after a start.
final class StartupCheckStatus: Sendable {
    enum State: String, Sendable {
        /// ledgerd is starting; the check begins once it serves.
        case pending
        /// The check is reading the projection.
        case running
        /// The projection passed.
        case ok
        /// The check found damage; the projection is being rebuilt from the log.
        case repairing
        /// The damage was repaired.
        case repaired
        /// The repair failed: reads fail until `ledgerctl rebuild` succeeds.
        case failed
        /// ledgerd stopped before the check finished.
        case interrupted
    }

    private let state = Mutex(State.pending)

    var current: State { state.withLock { $0 } }

    func set(_ new: State) {
        state.withLock { $0 = new }
    }
}
