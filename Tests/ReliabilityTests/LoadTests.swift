import Foundation
import Ledger
import LedgerClient
import LedgerTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Serialized: the idle-timeout test must not share the machine with the 60-second load.
@Suite(.serialized) struct LoadTests {
    /// A keep-alive connection that stays silent past --idle-timeout is closed; one that keeps
    /// talking is not.
    @Test func idleConnectionsAreClosed() async throws {
        let daemon = try Daemon(arguments: ["--idle-timeout", "2"])
        let idle = RawHTTP(daemon.socketPath)
        let busy = RawHTTP(daemon.socketPath)
        #expect(idle.exchange(method: "GET", path: "/healthz", body: nil)?.status == 200)
        #expect(busy.exchange(method: "GET", path: "/healthz", body: nil)?.status == 200)
        // Blocking sleeps on purpose: a suspended task may resume late when other tests hold the
        // cooperative pool, and this connection must really speak every half second.
        for _ in 0..<8 {
            usleep(500_000)
            #expect(busy.exchange(method: "GET", path: "/healthz", body: nil)?.status == 200, "a connection in use is kept")
        }
        #expect(idle.exchange(method: "GET", path: "/healthz", body: nil) == nil, "the idle connection was closed")
    }

    /// 1,000 connections held open while 16 clients keep up the turn mix for 60 s: every answer
    /// is 200 or an expected 409, the held connections still answer at the end, and ledgerd's
    /// memory stays flat.
    @Test func aThousandConnectionsAndSixtySecondsOfLoad() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        guard limit.rlim_cur >= 2_200 else {
            Issue.record("the test needs 2,200 descriptors; the hard limit is \(limit.rlim_max)")
            return
        }
        // The held connections are idle for the whole run: keep them past the idle timeout, which
        // idleConnectionsAreClosed tests on its own.
        let daemon = try Daemon(arguments: ["--idle-timeout", "600"])
        var held: [RawHTTP] = []
        for _ in 0..<1_000 {
            let connection = RawHTTP(daemon.socketPath)
            let answer = connection.exchange(method: "GET", path: "/healthz", body: nil)
            #expect(answer?.status == 200)
            held.append(connection)
        }
        /// kB of ledgerd's memory: anonymous (heap, what a leak grows) and file-backed (mostly
        /// LMDB's map of data.mdb, which grows with the log by design).
        /// Also what SQLite holds (kB, from /metrics): its page caches fill as the projection
        /// grows, up to their configured size, which is growth by design rather than a leak.
        let metricsConnection = RawHTTP(daemon.socketPath)
        func memory() -> (anonymous: Int, file: Int, sqlite: Int) {
            let lines = ((try? String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)) ?? "").split(separator: "\n")
            func field(_ name: String) -> Int { lines.first { $0.hasPrefix(name) }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 }
            let exposition = metricsConnection.exchange(method: "GET", path: "/metrics", body: nil).map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            let sqliteLine = exposition.split(separator: "\n").first { $0.hasPrefix("ledger_sqlite_memory_bytes ") }
            let sqlite = sqliteLine.flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) / 1024 }
            #expect(sqlite != nil, "/metrics has ledger_sqlite_memory_bytes")
            return (field("RssAnon:"), field("RssFile:"), sqlite ?? 0)
        }

        let duration = Double(ProcessInfo.processInfo.environment["LEDGER_LOAD_SECONDS"] ?? "") ?? 60
        let failures = Shared<[String]>([])
        let completed = Shared(0)
        let started = Date()
        var atStart = (anonymous: 0, file: 0, sqlite: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    let client = LedgerClient(socketPath: daemon.socketPath, maxIdleConnections: 1)
                    var versions: [String: UInt64] = [:]
                    var turn = 0
                    while Date().timeIntervalSince(started) < duration {
                        let key = "w\(worker)-\(turn % 200)"
                        turn += 1
                        do {
                            let outcome = try await client.transition(key, .created("w\(worker)-\(turn)", expectedVersion: versions[key] ?? 0))
                            if case .rejected(let code, _, _) = outcome { failures.withLock { $0.append("unexpected \(code)") } }
                            versions[key] = outcome.session.version
                            _ = try await client.session(key)
                            completed.withLock { $0 += 2 }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
            try await Task.sleep(for: .seconds(min(5, duration / 4)))
            atStart = memory()
            try await group.waitForAll()
        }
        let atEnd = memory()
        print("load: \(completed.value) requests in \(Int(duration)) s with 1,000 extra connections held; ledgerd heap (RssAnon) \(atStart.anonymous / 1024) MB after warm-up, \(atEnd.anonymous / 1024) MB at the end, of which SQLite \(atStart.sqlite / 1024) -> \(atEnd.sqlite / 1024) MB; file-backed (LMDB map) \(atStart.file / 1024) -> \(atEnd.file / 1024) MB")
        #expect(failures.value.isEmpty, "\(failures.value.prefix(5))")
        let growthBesidesSQLite = (atEnd.anonymous - atStart.anonymous) - (atEnd.sqlite - atStart.sqlite)
        #expect(growthBesidesSQLite <= 16 * 1024,
                "heap grew from \(atStart.anonymous) kB to \(atEnd.anonymous) kB, SQLite's share from \(atStart.sqlite) kB to \(atEnd.sqlite) kB")
        for index in stride(from: 0, to: held.count, by: 97) {
            let answer = held[index].exchange(method: "GET", path: "/healthz", body: nil)
            #expect(answer?.status == 200, "a held connection stopped answering")
        }
    }
}
