import Foundation
import LedgerAPI
import LedgerClient
#if canImport(Glibc)
import Glibc
#endif

/// A real `ledgerd` process on a temporary data directory and socket.
public final class Daemon: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let dataDirectory: String
    public let socketPath: String
    public let arguments: [String]
    private var process: Process?
    private let logPath: String

    /// Starts ledgerd and waits until its socket answers.
    ///
    /// - Parameters:
    ///   - directory: reuse a directory (to restart on the same data); a fresh one by default.
    ///   - arguments: extra command-line arguments.
    ///   - dataDirectory: the data directory (default: `data` inside `directory`).
    public init(directory: TemporaryDirectory? = nil, dataDirectory: String? = nil, arguments: [String] = [],
                environment: [String: String] = [:], waitUntilReady: Bool = true) throws {
        self.directory = directory ?? TemporaryDirectory("d")
        self.dataDirectory = dataDirectory ?? self.directory.join("data")
        socketPath = self.directory.join("s.sock")
        self.arguments = arguments
        logPath = self.directory.join("ledgerd-\(UUID().uuidString.prefix(8)).log")
        try start(environment: environment, waitUntilReady: waitUntilReady)
    }

    private func start(environment: [String: String], waitUntilReady: Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("ledgerd"))
        // A long idle timeout unless a test sets its own: on a loaded machine the test process can
        // be kept from running for a minute (blocking work of other tests on its few threads),
        // and a connection it opened would then be closed as idle before its first request.
        let idle = arguments.contains("--idle-timeout") ? [] : ["--idle-timeout", "600"]
        process.arguments = ["--data-dir", dataDirectory, "--socket", socketPath] + idle + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        if waitUntilReady { try self.waitUntilReady() }
    }

    /// Polls the socket until ledgerd accepts connections (or it exits).
    public func waitUntilReady(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let process, !process.isRunning {
                throw DaemonError.exited(status: process.terminationStatus, log: log)
            }
            if Self.answers(socketPath) { return }
            usleep(10_000)
        }
        throw DaemonError.notReady(log: log)
    }

    /// Polls `GET /v1/status` until the background check of the projection is over, and
    /// returns how it ended (`ok`, `repaired`, `failed`, ...; `unfinished` after `timeout`).
    public func startupCheckOutcome(timeout: Double = 20) async throws -> String {
        let client = client()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if case .object(let status) = try await client.status(), case .string(let state) = status["projectionCheck"],
               !["pending", "running", "repairing"].contains(state) {
                return state
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return "unfinished"
    }

    public var pid: Int32 { process?.processIdentifier ?? 0 }
    public var isRunning: Bool { process?.isRunning ?? false }

    /// What ledgerd wrote to stderr so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A client of this daemon.
    public func client() -> LedgerClient { LedgerClient(socketPath: socketPath) }

    /// SIGTERM, then waits for the exit status.
    @discardableResult
    public func terminate(timeout: Double = 30) throws -> Int32 {
        try signal(SIGTERM, timeout: timeout)
    }

    /// SIGKILL: a crash. Waits for the process to be gone.
    public func kill9() {
        _ = try? signal(SIGKILL, timeout: 10)
    }

    private func signal(_ number: Int32, timeout: Double) throws -> Int32 {
        guard let process else { return 0 }
        if process.isRunning { kill(process.processIdentifier, number) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw DaemonError.didNotStop(log: log)
        }
        self.process = nil
        return process.terminationStatus
    }

    /// Starts ledgerd again on the same directory (after a terminate or a kill -9).
    public func restart(arguments extra: [String]? = nil, environment: [String: String] = [:]) throws -> Daemon {
        if isRunning { try terminate() }
        return try Daemon(directory: directory, dataDirectory: dataDirectory, arguments: extra ?? arguments, environment: environment)
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// True when something accepts connections on `path`.
    public static func answers(_ path: String) -> Bool {
        UnixSocket.accepts(path)
    }

    public enum DaemonError: Error, CustomStringConvertible {
        case exited(status: Int32, log: String)
        case notReady(log: String)
        case didNotStop(log: String)

        public var description: String {
            switch self {
            case .exited(let status, let log): "ledgerd exited with \(status):\n\(log)"
            case .notReady(let log): "ledgerd did not become ready:\n\(log)"
            case .didNotStop(let log): "ledgerd did not stop:\n\(log)"
            }
        }
    }
}
