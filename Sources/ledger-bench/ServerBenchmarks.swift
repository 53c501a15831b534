import ArgumentParser
import Foundation
import Ledger
import LedgerAPI
import LedgerClient

/// Options shared by the benchmarks that drive ledgerd.
struct ServerOptions: ParsableArguments {
    @Option(help: "Attach to a running ledgerd on this socket instead of starting one.") var socket: String?
    @Option(help: "Start ledgerd on this data directory (default: a fresh temporary one).") var dataDir: String?
    @Option(help: "Seconds of warm-up before measuring.") var warmup: Double = 2
    @Option(help: "Seconds measured.") var duration: Double = 10
    @Option(help: "Event loop threads of the load driver.") var clientThreads: Int = 1
}

/// One line of a benchmark table.
struct Row {
    var label: String
    var result: LoadResult
    var batches: BatchSizes?
    var serverCPU: Double?
    var driverCPU: Double?
    /// ledgerd's resident set: all of it, and its heap (without mapped files).
    var serverRSS: (total: Int, heap: Int)?

    static let header = "workload                         clients      ops/s    p50 ms    p99 ms   p999 ms   batch mean/p50/p99   ledgerd cpu  driver cpu   ledgerd RSS (heap)"

    func render(clients: Int) -> String {
        let batch = batches.map { String(format: "%6.1f/%4.0f/%4.0f", $0.mean, $0.median, $0.p99) } ?? "        -        "
        let server = serverCPU.map { String(format: "%5.0f%%", $0 * 100) } ?? "    -"
        let driver = driverCPU.map { String(format: "%5.0f%%", $0 * 100) } ?? "    -"
        let rss = serverRSS.map { "\(Measurement.megabytes($0.total)) (\(Measurement.megabytes($0.heap)))" } ?? "-"
        // Padded by hand: Foundation on Linux ignores the width of `%@`.
        return label.padding(toLength: 32, withPad: " ", startingAt: 0)
            + String(format: " %7d %10.0f %9.3f %9.3f %9.3f", clients, result.throughput,
                      result.milliseconds(50), result.milliseconds(99), result.milliseconds(99.9))
            + "   \(batch)   \(server)       \(driver)     \(rss)"
    }
}

struct TransitionsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transitions",
        abstract: "Transitions/s over the socket: the turn mix (resume, created, errored, cleared) on K keys.",
        discussion: "Example:\n  ledger-bench transitions --clients 1,16,64 --keys 10000 --duration 10 --naive")

    @OptionGroup var server: ServerOptions
    @Option(help: "Client counts to run, comma-separated.") var clients: String = "1,16,64"
    @Option(help: "Conversation keys, split among the clients.") var keys: Int = 10_000
    @Flag(help: "Also run the naive SQLite row store in-process (1 client) and print the ratio.") var naive = false
    @Flag(help: "Write to the keys a populated --data-dir holds (key-0 ... key-(K-1)), from their current states, instead of to keys of this run's own.")
    var existingKeys = false
    @Option(help: ArgumentHelp("With --existing-keys: the number of the first key written to (key-N onwards).",
                               discussion: "Where the written keys sit among the held ones: key-0 ... key-9999 of a million are spread over the whole key order, key-100000 ... key-109999 sort next to each other."))
    var firstKey = 0

    func validate() throws {
        if existingKeys && server.dataDir == nil && server.socket == nil {
            throw ValidationError("--existing-keys needs the populated ledger: give --data-dir (or --socket)")
        }
        if firstKey != 0 && !existingKeys { throw ValidationError("--first-key applies to --existing-keys only") }
        if firstKey < 0 { throw ValidationError("--first-key must be 0 or more") }
    }

    func run() async throws {
        let counts = clients.split(separator: ",").compactMap { Int($0) }
        let daemon = try DaemonUnderTest(dataDirectory: server.dataDir, socket: server.socket)
        defer { daemon.stop() }
        try await daemon.waitForStartupCheck()
        print(Row.header)
        var single: LoadResult?
        for count in counts {
            let row = try await Self.measure(daemon: daemon, clients: count, keys: keys, existingKeys: existingKeys, firstKey: firstKey,
                                             options: server, label: existingKeys ? "writes (\(keys) existing keys)" : "transitions (\(keys) keys)")
            print(row.render(clients: count))
            if count == 1 { single = row.result }
            let conflicts = row.result.statuses.filter { $0.key != 200 }
            if !conflicts.isEmpty { print("  non-200 answers: \(conflicts)") }
        }
        if naive {
            let path = "/tmp/lgb-naive-\(getpid()).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
            let result = try NaiveRowStore.run(path: path, keys: keys, warmup: server.warmup, duration: server.duration)
            print(Row(label: "naive SQLite row, in-process", result: result).render(clients: 1))
            if let single {
                print(String(format: "ledgerd over its socket vs naive in-process row, 1 client: %.2fx the throughput", single.throughput / result.throughput))
            }
        }
    }

    /// One load row.
    ///
    /// - Parameters:
    ///   - existingKeys: write to the ledger's populated keys from their current states (read
    ///     before the row starts, see ``ExistingKeys``) rather than to keys of the run's own.
    ///   - firstKey: with `existingKeys`, the number of the first populated key written to.
    static func measure(daemon: DaemonUnderTest, clients: Int, keys: Int, existingKeys: Bool = false, firstKey: Int = 0,
                        options: ServerOptions, label: String) async throws -> Row {
        let existing = existingKeys
            ? try await ExistingKeys.read(socketPath: daemon.socketPath, first: firstKey, count: keys, clients: clients) : nil
        let bucketsBefore = try await daemon.batchBuckets()
        let serverCPU = daemon.cpuSeconds
        let driverCPU = Measurement.cpuSeconds()
        let perClient = max(1, keys / clients)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let result = try await LoadDriver.run(socketPath: daemon.socketPath, connections: clients, warmup: options.warmup,
                                              duration: options.duration, threads: options.clientThreads) { index in
            if let existing { TurnMixSource(connection: index, run: seed, existing: existing[index], seed: seed) }
            else { TurnMixSource(connection: index, run: seed, keys: perClient, seed: seed) }
        }
        let elapsed = options.warmup + options.duration
        let bucketsAfter = try await daemon.batchBuckets()
        // batch sizes include the warm-up; commands counted by the histogram's own sum
        let commands = Double(result.completed) * elapsed / options.duration
        return Row(label: label, result: result,
                   batches: BatchSizes(before: bucketsBefore, after: bucketsAfter, commands: commands),
                   serverCPU: (daemon.cpuSeconds - serverCPU) / elapsed,
                   driverCPU: (Measurement.cpuSeconds() - driverCPU) / elapsed,
                   serverRSS: (daemon.residentBytes, daemon.heapBytes))
    }
}

struct ReadsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "GET /v1/sessions/{key} per second over the socket, on K written keys.",
        discussion: "Example:\n  ledger-bench reads --clients 64 --keys 10000")

    @OptionGroup var server: ServerOptions
    @Option(help: "Client counts to run, comma-separated.") var clients: String = "1,16,64"
    @Option(help: "Conversation keys to write first and read.") var keys: Int = 10_000

    func run() async throws {
        let daemon = try DaemonUnderTest(dataDirectory: server.dataDir, socket: server.socket)
        defer { daemon.stop() }
        try await daemon.waitForStartupCheck()
        let names = (0..<keys).map { "read-\($0)" }
        try await Self.populate(daemon.socketPath, keys: names)
        print(Row.header)
        for count in clients.split(separator: ",").compactMap({ Int($0) }) {
            let serverCPU = daemon.cpuSeconds
            let driverCPU = Measurement.cpuSeconds()
            let result = try await LoadDriver.run(socketPath: daemon.socketPath, connections: count, warmup: server.warmup,
                                                  duration: server.duration, threads: server.clientThreads) { index in
                ReadSource(keys: names, seed: UInt64(index + 1))
            }
            let elapsed = server.warmup + server.duration
            print(Row(label: "reads (\(keys) keys)", result: result, serverCPU: (daemon.cpuSeconds - serverCPU) / elapsed,
                      driverCPU: (Measurement.cpuSeconds() - driverCPU) / elapsed, serverRSS: (daemon.residentBytes, daemon.heapBytes)).render(clients: count))
        }
    }

    /// Creates a session on each key (64 writers at once).
    static func populate(_ socket: String, keys: [String]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<64 {
                group.addTask {
                    let client = LedgerClient(socketPath: socket, maxIdleConnections: 1)
                    defer { client.close() }
                    for index in stride(from: worker, to: keys.count, by: 64) {
                        _ = try await client.transition(keys[index], .created("\(keys[index])-s", expectedVersion: 0))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

struct StartupBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup",
        abstract: "Time from starting ledgerd on a data directory to its first answer; its first turns; and its RSS.",
        discussion: """
            With --turns, each start is followed by that many turns on random existing keys, one at a time \
            (a GET of the current session, then a resume of it, or a new session where there is none: \
            each writes one event to the data directory). With --cold, the data directory's files are \
            dropped from the page cache before each start, as after a reboot (no root needed).

            Example:
              ledger-bench populate --data-dir /tmp/l1m --events 1000000
              ledger-bench startup --data-dir /tmp/l1m
              ledger-bench startup --data-dir /tmp/l1m --cold --turns 200
            """)

    @Option(help: "A populated data directory (see `populate`).") var dataDir: String
    @Option(help: "Starts to time.") var runs: Int = 5
    @Option(help: "Random GETs to run before reading the RSS.") var reads: Int = 20_000
    @Option(help: "Turns (a GET, then a write) to time one by one right after each start.") var turns: Int = 0
    @Flag(help: "Drop the data directory's files from the page cache before each start.") var cold = false
    @Flag(help: "After the last start, ask ledgerd for an online rebuild of its projection and print its peak RSS and its RSS at rest afterwards (a repair takes the same path).")
    var rebuildOnline = false

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be at least 1") }
        guard turns >= 0, reads >= 0 else { throw ValidationError("--turns and --reads cannot be negative") }
    }

    func run() async throws {
        let keys = try Ledger.open(directory: dataDir + "/log", options: LedgerOptions(readOnly: true)).read { try $0.conversationCount() }
        var times: [Double] = []
        var firstTurns: [Double] = []
        for run in 0..<runs {
            if cold {
                try PageCache.drop(dataDir)
                let left = try PageCache.residency(of: dataDir)
                print(String(format: "start %d: page cache dropped (%@ of %@ still cached)", run + 1,
                             Measurement.megabytes(left.residentBytes), Measurement.megabytes(left.bytes)))
            }
            let started = Measurement.monotonic()
            let daemon = try DaemonUnderTest(dataDirectory: dataDir, socket: "/tmp/lgb-start-\(getpid()).sock")
            let client = LedgerClient(socketPath: daemon.socketPath, maxIdleConnections: 1)
            _ = try await client.status()
            let ready = Measurement.monotonic() - started
            times.append(ready)
            if turns > 0 {
                let latencies = try await timeTurns(client, keys: keys, seed: UInt64(run) &+ 11, sessionPrefix: "startup-\(getpid())-\(run)")
                firstTurns.append(latencies[0])
                let sorted = latencies.sorted()
                print(String(format: "start %d: ready in %.3f s; %d turns: first %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms, all %.2f s",
                             run + 1, ready, turns, latencies[0] * 1e3, sorted[sorted.count / 2] * 1e3,
                             sorted[min(sorted.count - 1, sorted.count * 99 / 100)] * 1e3, sorted[sorted.count - 1] * 1e3,
                             latencies.reduce(0, +)))
            }
            if run == runs - 1 {
                var random = SplitMix64(seed: 7)
                for _ in 0..<reads { _ = try await client.session("key-\(random.next() % UInt64(max(1, keys)))") }
                print("ledgerd RSS after \(reads) reads on \(keys) keys: \(Measurement.megabytes(daemon.residentBytes)) (heap \(Measurement.megabytes(daemon.heapBytes)))")
                // ledgerd unmaps the LMDB pages read so far every 5 s (they stay in the page cache).
                try await Task.sleep(for: .seconds(6))
                print("ledgerd RSS 6 s later, at rest: \(Measurement.megabytes(daemon.residentBytes)) (heap \(Measurement.megabytes(daemon.heapBytes)))")
                if rebuildOnline { try await rebuild(through: client, of: daemon) }
            }
            client.close()
            daemon.stop()
        }
        times.sort()
        print(String(format: "ready to serve: median %.3f s, best %.3f s, worst %.3f s (%d starts%@)", times[times.count / 2], times[0], times[times.count - 1], runs,
                     cold ? ", page cache dropped before each" : ""))
        if !firstTurns.isEmpty {
            firstTurns.sort()
            print(String(format: "first turn after a start: median %.2f ms, worst %.2f ms", firstTurns[firstTurns.count / 2] * 1e3, firstTurns[firstTurns.count - 1] * 1e3))
        }
    }

    /// Runs `turns` turns one after another, each on a random key of the populated ledger: the
    /// GET an orchestrator makes before it runs an agent, then the write it makes after
    /// (a resume of the current session, or a new one where the key has none).
    ///
    /// - Returns: each turn's wall time, in seconds, in the order run.
    /// - Throws: ``BenchError`` when a write is rejected (no other writer runs, so none may be).
    private func timeTurns(_ client: LedgerClient, keys: Int, seed: UInt64, sessionPrefix: String) async throws -> [Double] {
        var random = SplitMix64(seed: seed)
        var latencies: [Double] = []
        latencies.reserveCapacity(turns)
        for turn in 0..<turns {
            let key = TurnMix.keyName(prefix: ExistingKeys.prefix, Int(random.next() % UInt64(max(1, keys))))
            let started = Measurement.monotonic()
            let current = try await client.session(key)
            let request: TransitionRequest = if let session = current.sessionId {
                .resumed(session, expectedVersion: current.version)
            } else {
                .created("\(sessionPrefix)-\(turn)", expectedVersion: current.version, owner: "bench", environment: RuntimeEnvironment(volume: "bench"))
            }
            if case .rejected(let code, let message, _) = try await client.transition(key, request) {
                throw BenchError("turn \(turn) on \(key) rejected: \(code) \(message)")
            }
            latencies.append(Measurement.monotonic() - started)
        }
        return latencies
    }

    /// What an online rebuild (or a repair, the same builder) leaves behind in ledgerd: the
    /// process's peak RSS (`VmHWM`, which the rebuild sets, ledgerd being at rest before) and
    /// its RSS once the rebuild is over.
    private func rebuild(through client: LedgerClient, of daemon: DaemonUnderTest) async throws {
        let started = Measurement.monotonic()
        _ = try await client.rebuildProjection()
        let seconds = Measurement.monotonic() - started
        let peak = Measurement.residentBytes(pid: daemon.pid, field: "VmHWM") ?? 0
        try await Task.sleep(for: .seconds(6))
        print("ledgerd online rebuild: \(String(format: "%.2f", seconds)) s, peak RSS \(Measurement.megabytes(peak)); 6 s later, at rest: \(Measurement.megabytes(daemon.residentBytes)) (heap \(Measurement.megabytes(daemon.heapBytes)))")
    }
}

struct ReplayBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Time `ledgerctl replay --json > /dev/null` on a data directory (the real tool).",
        discussion: "Example:\n  ledger-bench replay --data-dir /tmp/l1m")

    @Option(help: "A populated data directory.") var dataDir: String
    @Option(help: "Runs.") var runs: Int = 3
    @Flag(help: "Also time `replay --verify` and `ledgerctl verify`.") var verify = false

    func run() throws {
        let ledgerctl = (DaemonUnderTest.ownDirectory as NSString).appendingPathComponent("ledgerctl")
        func time(_ arguments: [String]) throws -> Double {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ledgerctl)
            process.arguments = arguments
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            let started = Measurement.monotonic()
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BenchError("ledgerctl \(arguments) exited \(process.terminationStatus)") }
            return Measurement.monotonic() - started
        }
        let events = try Ledger.open(directory: dataDir + "/log", options: LedgerOptions(readOnly: true)).head().seq
        var runsToDo: [(String, [String])] = [("replay --json", ["replay", "--data-dir", dataDir, "--json"]),
                                              ("replay (human)", ["replay", "--data-dir", dataDir])]
        if verify {
            runsToDo += [("replay --json --verify", ["replay", "--data-dir", dataDir, "--json", "--verify"]),
                         ("verify (log + projection)", ["verify", "--data-dir", dataDir])]
        }
        for (label, arguments) in runsToDo {
            let times = try (0..<runs).map { _ in try time(arguments) }.sorted()
            print(String(format: "ledgerctl %-26@ %d events: median %.2f s (%.0f events/s), best %.2f s", label as NSString, events,
                         times[times.count / 2], Double(events) / times[times.count / 2], times[0]))
        }
    }
}
