import Ledger
import LedgerClient

/// The keys of a populated ledger in their current states, split among the clients of a load
/// run, so that the run's turn mix resumes, errors and clears conversations that exist (as on a
/// production ledger) instead of creating one per key first.
///
/// Without it, a run on a ledger holding 1M keys wrote to 1M keys of its own: in a 10 s run
/// nearly every write created a conversation, a different mix from the 10k-key row's mostly
/// resumed ones.
enum ExistingKeys {
    /// How `ledger-bench populate` names keys: `key-0`, `key-1`, ...
    static let prefix = "key"

    /// One client's contiguous share of the keys.
    struct Slice: Sendable {
        var firstNumber: Int
        var states: [TurnMix.KeyState]
    }

    /// Reads the current state of keys `key-first` to `key-(first+count-1)` over the socket
    /// (`GET /v1/sessions/{key}`, `readers` at a time) and splits them into `clients` slices.
    static func read(socketPath: String, first: Int = 0, count: Int, clients: Int, readers: Int = 32) async throws -> [Slice] {
        let perClient = max(1, count / clients)
        let client = LedgerClient(socketPath: socketPath, maxIdleConnections: readers)
        defer { client.close() }
        var states = [TurnMix.KeyState](repeating: TurnMix.KeyState(), count: perClient * clients)
        try await withThrowingTaskGroup(of: [(Int, TurnMix.KeyState)].self) { group in
            let stride = (states.count + readers - 1) / readers
            // `start`, not `first`: a closure below names the parameter `first`.
            for start in Swift.stride(from: 0, to: states.count, by: stride) {
                let range = start..<min(states.count, start + stride)
                group.addTask {
                    var read: [(Int, TurnMix.KeyState)] = []
                    read.reserveCapacity(range.count)
                    for number in range {
                        let current = try await client.session(TurnMix.keyName(prefix: prefix, first + number))
                        read.append((number, TurnMix.KeyState(version: current.version, session: current.sessionId)))
                    }
                    return read
                }
            }
            for try await part in group {
                for (number, state) in part { states[number] = state }
            }
        }
        return (0..<clients).map { index in
            Slice(firstNumber: first + index * perClient, states: Array(states[(index * perClient)..<((index + 1) * perClient)]))
        }
    }
}
