import ArgumentParser
import Foundation
import Ledger
import LedgerServer
import Logging
import ServiceLifecycle

/// `ledgerd`: the session ledger daemon.
@main
struct LedgerdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerd",
        abstract: "The session ledger: keeps AI-agent session IDs honest, over HTTP/JSON on a Unix socket.",
        discussion: """
            With no options ledgerd keeps its data in ./ledger-data and listens on ./ledgerd.sock. \
            Every option can also come from the environment variable named in its help.

            Examples:
              ledgerd
              ledgerd --data-dir /var/lib/ledger --socket /run/ledger/ledgerd.sock \\
                  --allow-uid 1000
              # when the agents' runtime and ledgerd restart together
              LEDGERD_INVALIDATE_ON_START=1 ledgerd
              curl --unix-socket ./ledgerd.sock http://localhost/v1/status
            """
    )

    @Option(help: "Data directory: the log, the projection, the lock. [env: LEDGERD_DATA_DIR]")
    var dataDir: String = env("LEDGERD_DATA_DIR") ?? "./ledger-data"

    @Option(help: "Unix socket path (at most 103 bytes). [env: LEDGERD_SOCKET]")
    var socket: String = env("LEDGERD_SOCKET") ?? "./ledgerd.sock"

    @Option(help: "Socket file mode, octal. [env: LEDGERD_SOCKET_MODE]")
    var socketMode: String = env("LEDGERD_SOCKET_MODE") ?? "0660"

    @Option(parsing: .singleValue, help: "Allow only peers with this uid (repeatable; ledgerd's own uid is always allowed). [env: LEDGERD_ALLOW_UID, comma-separated]")
    var allowUid: [UInt32] = env("LEDGERD_ALLOW_UID").map { $0.split(separator: ",").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) } } ?? []

    @Flag(help: "Invalidate every live session at startup (when the runtime restarts with ledgerd). [env: LEDGERD_INVALIDATE_ON_START=1]")
    var invalidateOnStart = env("LEDGERD_INVALIDATE_ON_START") == "1"

    @Option(help: "Largest request body in bytes. [env: LEDGERD_MAX_BODY]")
    var maxBody: Int = env("LEDGERD_MAX_BODY").flatMap { Int($0) } ?? 64 * 1024

    @Option(help: "Largest request head (request line and headers) in bytes. [env: LEDGERD_MAX_HEAD]")
    var maxHead: Int = env("LEDGERD_MAX_HEAD").flatMap { Int($0) } ?? 16 * 1024

    @Option(help: "Seconds a graceful shutdown waits for requests in flight. [env: LEDGERD_SHUTDOWN_GRACE]")
    var shutdownGrace: Int = env("LEDGERD_SHUTDOWN_GRACE").flatMap { Int($0) } ?? 10

    @Option(help: "SQLite reader connections. [env: LEDGERD_READERS]")
    var readers: Int = env("LEDGERD_READERS").flatMap { Int($0) } ?? 8

    @Option(help: "Commands per durable commit at most. [env: LEDGERD_MAX_BATCH]")
    var maxBatch: Int = env("LEDGERD_MAX_BATCH").flatMap { Int($0) } ?? 1_024

    @Option(help: "Milliseconds writes arriving one at a time may wait to be projected together when no read needs them (0: at once). [env: LEDGERD_PROJECTION_LINGER_MS]")
    var projectionLingerMs: Double = env("LEDGERD_PROJECTION_LINGER_MS").flatMap { Double($0) } ?? 1_000

    @Option(help: "The same, when commit batches carry concurrent writers (4 events or more). [env: LEDGERD_PROJECTION_LINGER_BUSY_MS]")
    var projectionLingerBusyMs: Double = env("LEDGERD_PROJECTION_LINGER_BUSY_MS").flatMap { Double($0) } ?? 1_000

    @Option(help: "Events projected in one SQLite transaction at most; reaching it ends the wait. [env: LEDGERD_PROJECTION_BATCH_EVENTS]")
    var projectionBatchEvents: Int = env("LEDGERD_PROJECTION_BATCH_EVENTS").flatMap { Int($0) } ?? 32_768

    @Option(help: "Committed events waiting for the projection at most; at this many, writes wait for the projection (memory stays bounded). At least --projection-batch-events. [env: LEDGERD_PROJECTION_MAX_BACKLOG]")
    var projectionMaxBacklog: Int = env("LEDGERD_PROJECTION_MAX_BACKLOG").flatMap { Int($0) } ?? 65_536

    @Option(help: "Seconds a keep-alive connection may stay idle. [env: LEDGERD_IDLE_TIMEOUT]")
    var idleTimeout: Int = env("LEDGERD_IDLE_TIMEOUT").flatMap { Int($0) } ?? 60

    @Option(help: "Seconds a request may take to arrive from its first byte. [env: LEDGERD_REQUEST_TIMEOUT]")
    var requestTimeout: Int = env("LEDGERD_REQUEST_TIMEOUT").flatMap { Int($0) } ?? 10

    @Option(help: "Connections held at once at most. [env: LEDGERD_MAX_CONNECTIONS]")
    var maxConnections: Int = env("LEDGERD_MAX_CONNECTIONS").flatMap { Int($0) } ?? 4_096

    @Option(help: "Event loop threads (default: one per core). [env: LEDGERD_THREADS]")
    var threads: Int = env("LEDGERD_THREADS").flatMap { Int($0) } ?? ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Write head state back to <data-dir>/log/state once this many events are held in memory (a crash folds at most about this many again at the next start). [env: LEDGERD_WRITE_BACK_EVENTS]")
    var writeBackEvents: Int = env("LEDGERD_WRITE_BACK_EVENTS").flatMap { Int($0) } ?? 65_536

    @Option(help: "Write head state back once the events held in memory changed this many conversations (bounds the write-back's memory with many keys). [env: LEDGERD_WRITE_BACK_CONVERSATIONS]")
    var writeBackConversations: Int = env("LEDGERD_WRITE_BACK_CONVERSATIONS").flatMap { Int($0) } ?? 16_384

    @Option(help: "Write head state back at the first commit this long after the last write-back. [env: LEDGERD_WRITE_BACK_INTERVAL_MS]")
    var writeBackIntervalMs: Int = env("LEDGERD_WRITE_BACK_INTERVAL_MS").flatMap { Int($0) } ?? 5_000

    @Option(help: "Initial LMDB map size in MiB; it grows as needed. [env: LEDGERD_MAP_SIZE_MB]")
    var mapSizeMb: Int = env("LEDGERD_MAP_SIZE_MB").flatMap { Int($0) } ?? 1_024

    @Option(help: "Refuse writes (507 disk_full) while the data directory's file system has less than this many MiB free. [env: LEDGERD_MIN_FREE_MB]")
    var minFreeMb: Int = env("LEDGERD_MIN_FREE_MB").flatMap { Int($0) } ?? 64

    @Option(help: "Log level: trace, debug, info, notice, warning, error. [env: LEDGERD_LOG_LEVEL]")
    var logLevel: String = env("LEDGERD_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard socket.utf8.count <= 103 else { throw ValidationError("--socket is \(socket.utf8.count) bytes; Unix socket paths are limited to 103") }
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else { throw ValidationError("--socket-mode must be an octal mode such as 0660") }
        guard maxBody > 0, maxHead > 0, maxBatch > 0, idleTimeout > 0, requestTimeout > 0, maxConnections > 0, threads > 0,
              mapSizeMb > 0, shutdownGrace >= 0, readers > 0, minFreeMb >= 0, writeBackEvents > 0, writeBackIntervalMs >= 0, projectionBatchEvents > 0 else {
            throw ValidationError("sizes, counts and timeouts must be positive")
        }
        guard (0...60_000).contains(projectionLingerMs) else { throw ValidationError("--projection-linger-ms must be between 0 and 60000") }
        guard (0...60_000).contains(projectionLingerBusyMs) else { throw ValidationError("--projection-linger-busy-ms must be between 0 and 60000") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ledgerd")

        var configuration = ServerConfiguration()
        configuration.dataDirectory = dataDir
        configuration.socketPath = socket
        configuration.socketMode = mode_t(UInt32(socketMode, radix: 8)!)
        configuration.allowedUIDs = allowUid.isEmpty ? nil : Set(allowUid)
        configuration.invalidateOnStart = invalidateOnStart
        configuration.maxBodyBytes = maxBody
        configuration.maxHeadBytes = maxHead
        configuration.shutdownGrace = .seconds(Int64(shutdownGrace))
        configuration.readers = readers
        configuration.maxBatch = maxBatch
        configuration.projectionLinger = ProjectionLinger(quiet: .microseconds(Int64(projectionLingerMs * 1_000)),
                                                          busy: .microseconds(Int64(projectionLingerBusyMs * 1_000)),
                                                          maxEvents: projectionBatchEvents, maxBacklog: projectionMaxBacklog)
        configuration.idleTimeout = .seconds(Int64(idleTimeout))
        configuration.requestTimeout = .seconds(Int64(requestTimeout))
        configuration.maxConnections = maxConnections
        configuration.eventLoopThreads = threads
        configuration.initialMapSize = mapSizeMb << 20
        configuration.writeBack = WriteBackPolicy(events: writeBackEvents, intervalNanoseconds: UInt64(writeBackIntervalMs) * 1_000_000,
                                                  conversations: writeBackConversations)
        configuration.minimumFreeBytes = UInt64(max(0, minFreeMb)) << 20

        let daemon = LedgerDaemon(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: daemon)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch let error as StartupError {
            logger.critical("\(error.message)")
            throw ExitCode(1)
        }
    }
}

private func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}
