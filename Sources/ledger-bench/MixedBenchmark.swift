import ArgumentParser
import Foundation

/// Writers, current-state readers and history readers at once on one ledgerd: what an
/// orchestrator's turn loop does beside an operator's audit queries.
struct MixedBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixed",
        abstract: "Writes, current-state reads and history reads at once on one ledgerd.",
        discussion: """
            The writers run the turn mix; the readers GET the current state of the keys the writers \
            write; the history readers GET the last 5 events of those keys, which needs the \
            projection (the current state does not). One row per kind; CPU is the whole run's.

            Example:
              ledger-bench mixed --writers 64 --readers 8 --history-readers 1 --keys 10000
            """)

    @OptionGroup var server: ServerOptions
    @Option(help: "Writing connections (the turn mix).") var writers: Int = 64
    @Option(help: "Connections reading the current state (GET /v1/sessions/{key}).") var readers: Int = 8
    @Option(help: "Connections reading history (GET /v1/sessions/{key}/history?limit=5).") var historyReaders: Int = 1
    @Option(help: "Conversation keys, split among the writers.") var keys: Int = 10_000

    func validate() throws {
        guard writers > 0, readers >= 0, historyReaders >= 0, keys >= writers else {
            throw ValidationError("--writers must be positive, readers not negative, and --keys at least --writers")
        }
    }

    func run() async throws {
        let daemon = try DaemonUnderTest(dataDirectory: server.dataDir, socket: server.socket)
        defer { daemon.stop() }
        try await daemon.waitForStartupCheck()
        let run = UInt64(Date().timeIntervalSince1970 * 1000)
        let perWriter = max(1, keys / writers)
        let names = (0..<writers).flatMap { writer in (0..<perWriter).map { TurnMixSource.keyName(connection: writer, run: run, index: $0) } }
        let serverCPU = daemon.cpuSeconds
        let driverCPU = Measurement.cpuSeconds()
        let options = server
        async let written = LoadDriver.run(socketPath: daemon.socketPath, connections: writers, warmup: options.warmup,
                                           duration: options.duration, threads: options.clientThreads) { index in
            TurnMixSource(connection: index, run: run, keys: perWriter, seed: run)
        }
        async let read = readers == 0 ? nil : LoadDriver.run(socketPath: daemon.socketPath, connections: readers, warmup: options.warmup,
                                                               duration: options.duration, threads: 1) { index in
            ReadSource(keys: names, seed: UInt64(index + 1))
        }
        async let history = historyReaders == 0 ? nil : LoadDriver.run(socketPath: daemon.socketPath, connections: historyReaders,
                                                                        warmup: options.warmup, duration: options.duration, threads: 1) { index in
            ReadSource(keys: names, seed: UInt64(index + 1_000), path: { "/v1/sessions/\($0)/history?limit=5" })
        }
        let results = try await (written, read, history)
        let elapsed = server.warmup + server.duration
        print(Row.header)
        print(Row(label: "mixed: transitions", result: results.0, serverCPU: (daemon.cpuSeconds - serverCPU) / elapsed,
                  driverCPU: (Measurement.cpuSeconds() - driverCPU) / elapsed, serverRSS: (daemon.residentBytes, daemon.heapBytes)).render(clients: writers))
        if let reads = results.1 { print(Row(label: "mixed: current state", result: reads).render(clients: readers)) }
        if let reads = results.2 { print(Row(label: "mixed: history (limit 5)", result: reads).render(clients: historyReaders)) }
        for (label, result) in [("transitions", results.0), ("current state", results.1), ("history", results.2)] {
            guard let result else { continue }
            let other = result.statuses.filter { $0.key != 200 }
            if !other.isEmpty { print("  \(label): non-200 answers: \(other)") }
        }
    }
}
