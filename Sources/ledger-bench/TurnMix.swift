import Ledger

/// A realistic turn mix on a set of keys, as an orchestrator produces it: most turns resume
/// the current session, some get a new session back from the SDK, some fail (and the next turn
/// starts fresh), a few are reset by a user.
///
/// The generator tracks each key's state as a well-behaved client would, so every command it
/// makes is accepted when it is the only writer of its keys.
struct TurnMix {
    struct KeyState: Sendable {
        var version: UInt64 = 0
        var session: String?
    }

    /// Relative weights, out of 100.
    static let resumeWeight = 70
    static let createWeight = 15
    static let errorWeight = 10
    // the remaining 5: cleared

    private(set) var keys: [KeyState]
    private let prefix: String
    /// The number in the name of key 0: a mix over a slice of a populated ledger's keys.
    private let firstNumber: Int
    /// What the session IDs this mix makes start with.
    private let sessionPrefix: String
    private var nextSession: UInt64 = 0
    private var random: SplitMix64

    init(keys: Int, prefix: String = "key", seed: UInt64 = 42) {
        self.keys = Array(repeating: KeyState(), count: keys)
        self.prefix = prefix
        firstNumber = 0
        sessionPrefix = prefix
        random = SplitMix64(seed: seed)
    }

    /// A mix over keys that exist already, in their current states: the keys named
    /// `prefix-firstNumber` onwards, one per state. Its session IDs start with `sessionPrefix`,
    /// which must differ from those of whatever wrote the keys (a reused ID is dead).
    init(existing states: [KeyState], prefix: String, firstNumber: Int, sessionPrefix: String, seed: UInt64) {
        keys = states
        self.prefix = prefix
        self.firstNumber = firstNumber
        self.sessionPrefix = sessionPrefix
        random = SplitMix64(seed: seed)
    }

    func keyName(_ index: Int) -> String { Self.keyName(prefix: prefix, firstNumber + index) }

    /// The name of key `index` of a mix with keys named after `prefix`.
    static func keyName(prefix: String, _ index: Int) -> String { "\(prefix)-\(index)" }

    /// The next command for a random key, and that key's index.
    mutating func next() -> (index: Int, key: String, request: TransitionRequest) {
        let index = Int(random.next() % UInt64(keys.count))
        return (index, keyName(index), request(for: index))
    }

    /// The next command for key `index`.
    mutating func request(for index: Int) -> TransitionRequest {
        let state = keys[index]
        guard let session = state.session else {
            return .created(newSession(), expectedVersion: state.version, owner: "bench", environment: RuntimeEnvironment(volume: "bench"))
        }
        let roll = Int(random.next() % 100)
        if roll < Self.resumeWeight { return .resumed(session, expectedVersion: state.version) }
        if roll < Self.resumeWeight + Self.createWeight {
            return .created(newSession(), expectedVersion: state.version, owner: "bench", environment: RuntimeEnvironment(volume: "bench"))
        }
        if roll < Self.resumeWeight + Self.createWeight + Self.errorWeight {
            return .errored(session, reason: "error_during_execution", reportedSessionId: newSession())
        }
        return .cleared(session, reason: "user reset")
    }

    /// Records what the ledger answered for key `index`.
    mutating func observe(_ index: Int, version: UInt64, session: String?) {
        keys[index] = KeyState(version: version, session: session)
    }

    private mutating func newSession() -> String {
        nextSession += 1
        return "\(sessionPrefix)-s\(nextSession)-\(random.next() % 1_000_000)"
    }
}
