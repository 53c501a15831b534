import Foundation
import GRDB
import Histogram
import Ledger

/// The store the incidents' projects used: one SQLite row per conversation, overwritten in place
/// with a version compare-and-set, WAL with synchronous=FULL (durable), in-process (no socket,
/// no log, no hash chain). Driven with the same turn mix, it is the baseline ledgerd is compared to.
enum NaiveRowStore {
    static func run(path: String, keys: Int, warmup: Double, duration: Double) throws -> LoadResult {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, session_id TEXT, version INTEGER NOT NULL)")
        }
        var mix = TurnMix(keys: keys, prefix: "naive")
        var result = LoadResult()
        let start = Measurement.monotonic()
        var measuringFrom: Double?
        while true {
            let now = Measurement.monotonic()
            if measuringFrom == nil && now - start >= warmup { measuringFrom = now }
            if let from = measuringFrom, now - from >= duration { result.seconds = now - from; break }
            let (index, key, request) = mix.next()
            let expected = mix.keys[index].version
            let newSession: String? = switch request.kind {
            case .created: request.sessionId
            case .resumed: mix.keys[index].session
            case .errored, .cleared: nil
            }
            let began = DispatchTime.now().uptimeNanoseconds
            let applied = try queue.write { db -> Bool in
                let current = try Int64.fetchOne(db, sql: "SELECT version FROM sessions WHERE key = ?", arguments: [key]) ?? 0
                guard UInt64(current) == expected else { return false }
                try db.execute(sql: "INSERT OR REPLACE INTO sessions (key, session_id, version) VALUES (?, ?, ?)",
                               arguments: [key, newSession, Int64(expected + 1)])
                return true
            }
            let latency = DispatchTime.now().uptimeNanoseconds - began
            if applied { mix.observe(index, version: expected + 1, session: newSession) }
            if measuringFrom != nil {
                _ = result.latencies.record(latency)
                result.completed += 1
                result.statuses[applied ? 200 : 409, default: 0] += 1
            }
        }
        try queue.close()
        return result
    }
}
