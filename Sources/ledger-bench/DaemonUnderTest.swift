import Foundation
import LedgerClient
#if canImport(Glibc)
import Glibc
#endif

/// A ledgerd for a benchmark: the release binary next to this one, on a data directory.
final class DaemonUnderTest: @unchecked Sendable {
    let socketPath: String
    let dataDirectory: String
    let process: Process?
    let pid: Int32
    private let scratch: String?

    /// Starts ledgerd on `dataDirectory` (a fresh temp one if nil), or attaches to `socket`.
    init(dataDirectory: String?, socket: String?, extraArguments: [String] = []) throws {
        if let socket, dataDirectory == nil {
            socketPath = socket
            self.dataDirectory = ""
            process = nil
            scratch = nil
            pid = Self.pidFromStatus(socket) ?? 0
            return
        }
        let base = "/tmp/lgb-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        // Removed on stop: the temporary data directory when none was given, and in any case
        // the socket and its lock, which live here even when the data directory is the caller's.
        scratch = base
        self.dataDirectory = dataDirectory ?? base + "/data"
        socketPath = socket ?? base + "/s.sock"
        let binary = (Self.ownDirectory as NSString).appendingPathComponent("ledgerd")
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError("no ledgerd next to ledger-bench (\(binary)); build with `swift build -c release`") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--data-dir", self.dataDirectory, "--socket", socketPath, "--log-level", "warning"] + extraArguments
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        pid = process.processIdentifier
        try waitUntilReady()
    }

    static var ownDirectory: String {
        ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0] as String)
            .split(separator: "/").dropLast().reduce("") { $0 + "/" + $1 }
    }

    /// Polls until the socket answers a status request.
    func waitUntilReady(timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let process, !process.isRunning { throw BenchError("ledgerd exited with \(process.terminationStatus)") }
            if Self.answers(socketPath) { return }
            usleep(2_000)
        }
        throw BenchError("ledgerd did not become ready in \(timeout) s")
    }

    /// Waits until ledgerd's background check of its projection is over (`projectionCheck` in
    /// `GET /v1/status`): it reads every page once after a start (seconds at 10M events), and a
    /// load row measured meanwhile would measure that check too.
    func waitForStartupCheck(timeout: Double = 600) async throws {
        let client = LedgerClient(socketPath: socketPath, maxIdleConnections: 1)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard case .object(let status) = try await client.status() else { throw BenchError("GET /v1/status is not an object") }
            switch status["projectionCheck"] {
            case .string("pending"), .string("running"), .string("repairing"): try await Task.sleep(for: .milliseconds(50))
            case .string("ok"), .string("repaired"), nil: return  // nil: an older ledgerd, attached with --socket
            case let other: throw BenchError("the projection check ended as \(String(describing: other))")
            }
        }
        throw BenchError("the projection check did not finish in \(timeout) s")
    }

    func stop() {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    var cpuSeconds: Double { Measurement.cpuSeconds(pid: pid) ?? 0 }
    var residentBytes: Int { Measurement.residentBytes(pid: pid) ?? 0 }
    /// The anonymous part of the RSS: heap and stacks, without the mapped LMDB and SQLite files.
    var heapBytes: Int { Measurement.residentBytes(pid: pid, field: "RssAnon") ?? 0 }

    /// The batch-size histogram buckets from /metrics: (upper bound, cumulative count).
    func batchBuckets() async throws -> [(Double, Double)] {
        let client = LedgerClient(socketPath: socketPath, maxIdleConnections: 1)
        defer { client.close() }
        let text = String(decoding: try await client.send(.GET, "/metrics").body, as: UTF8.self)
        var buckets: [(Double, Double)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("ledger_batch_size_bucket{le=\"") {
            let bound = line.split(separator: "\"")[1]
            let count = Double(line.split(separator: " ").last ?? "0") ?? 0
            buckets.append((bound == "+Inf" ? .infinity : Double(bound) ?? 0, count))
        }
        return buckets
    }

    static func answers(_ path: String) -> Bool {
        UnixSocket.accepts(path)
    }

    private static func pidFromStatus(_ socket: String) -> Int32? { nil }
}

/// Differences of two cumulative bucket scrapes: the batches of one run.
struct BatchSizes {
    var count: Double
    var mean: Double
    var median: Double
    var p99: Double

    init(before: [(Double, Double)], after: [(Double, Double)], commands: Double) {
        let deltas = zip(before, after).map { ($0.0, $1.1 - $0.1) }
        let total = deltas.last?.1 ?? 0
        func quantile(_ q: Double) -> Double {
            deltas.first { $0.1 >= q * total && $0.1 > 0 }?.0 ?? 0
        }
        count = total
        mean = total > 0 ? commands / total : 0
        median = quantile(0.5)
        p99 = quantile(0.99)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
