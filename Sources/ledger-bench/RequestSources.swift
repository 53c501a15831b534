import Ledger
import LedgerAPI
import NIOCore

/// The turn mix on keys this connection alone writes, so it always knows their state and every
/// command is accepted (as when each conversation is handled by one worker at a time).
final class TurnMixSource: RequestSource {
    private var mix: TurnMix
    private var last: (index: Int, request: TransitionRequest)?
    private(set) var conflicts = 0

    /// - Parameter run: distinguishes this run's keys from earlier runs on the same ledgerd.
    init(connection: Int, run: UInt64, keys: Int, seed: UInt64) {
        mix = TurnMix(keys: max(1, keys), prefix: Self.prefix(connection: connection, run: run), seed: seed &+ UInt64(connection))
    }

    /// The turn mix on keys of a populated ledger (`populate` names them `key-0` onwards), from
    /// their current states: this connection's share of an existing workload.
    init(connection: Int, run: UInt64, existing: ExistingKeys.Slice, seed: UInt64) {
        mix = TurnMix(existing: existing.states, prefix: ExistingKeys.prefix, firstNumber: existing.firstNumber,
                      sessionPrefix: Self.prefix(connection: connection, run: run), seed: seed &+ UInt64(connection))
    }

    private static func prefix(connection: Int, run: UInt64) -> String { "r\(run % 100_000)c\(connection)" }

    /// The name of key `index` of connection `connection` in run `run`, for readers of those keys.
    static func keyName(connection: Int, run: UInt64, index: Int) -> String {
        TurnMix.keyName(prefix: prefix(connection: connection, run: run), index)
    }

    func next() -> [UInt8] {
        let (index, key, request) = mix.next()
        last = (index, request)
        return RawRequest.make("POST", "/v1/sessions/\(key)/transitions", body: TransitionBody.encode(request))
    }

    func answered(status: Int, body: ByteBuffer) {
        guard let (index, request) = last else { return }
        let state = mix.keys[index]
        if status == 200 {
            switch request.kind {
            case .created: mix.observe(index, version: state.version + 1, session: request.sessionId)
            case .resumed: mix.observe(index, version: state.version + 1, session: state.session)
            case .errored, .cleared: mix.observe(index, version: state.version + 1, session: nil)
            }
        } else {
            conflicts += 1
            // Resynchronise from the answer's current state (never expected with owned keys).
            if let value = try? JSONParser.parse(Array(body.readableBytesView)), case .object(let object) = value,
               let session = object["session"], let current = try? SessionJSON.read(session) {
                mix.observe(index, version: current.version, session: current.sessionId)
            }
        }
    }
}

/// `GET /v1/sessions/{key}` (or another path of the key) on random keys.
final class ReadSource: RequestSource {
    private let keys: [String]
    private let path: (String) -> String
    private var random: SplitMix64

    init(keys: [String], seed: UInt64, path: @escaping (String) -> String = { "/v1/sessions/\($0)" }) {
        self.keys = keys
        self.path = path
        random = SplitMix64(seed: seed)
    }

    func next() -> [UInt8] {
        RawRequest.make("GET", path(keys[Int(random.next() % UInt64(keys.count))]))
    }

    func answered(status: Int, body: ByteBuffer) {}
}
