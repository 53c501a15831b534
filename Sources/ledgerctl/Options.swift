import ArgumentParser
import Foundation
import Ledger
import LedgerClient

private func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

/// `--data-dir`, named and defaulted as ledgerd names it.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "ledgerd's data directory. [env: LEDGERD_DATA_DIR]")
    var path: String = environment("LEDGERD_DATA_DIR") ?? "./ledger-data"

    var logDirectory: String { path + "/log" }

    /// The log, opened read-only (safe beside a running ledgerd).
    func openLedger() throws -> Ledger {
        guard FileManager.default.fileExists(atPath: logDirectory + "/data.mdb") else {
            throw CLIError.failed("no ledger in \(path) (no \(logDirectory)/data.mdb); check --data-dir")
        }
        do {
            return try Ledger.open(directory: logDirectory, options: LedgerOptions(readOnly: true))
        } catch {
            throw CLIError.failed("cannot open the ledger in \(path): \(error)")
        }
    }
}

/// `--socket`, named and defaulted as ledgerd names it.
struct SocketOptions: ParsableArguments {
    @Option(name: .customLong("socket"), help: "ledgerd's Unix socket. [env: LEDGERD_SOCKET]")
    var path: String = environment("LEDGERD_SOCKET") ?? "./ledgerd.sock"

    func client() -> LedgerClient { LedgerClient(socketPath: path, maxIdleConnections: 2) }

    /// Runs `body` against ledgerd, turning transport and server failures into CLI failures.
    func call<T>(_ body: (LedgerClient) async throws -> T) async throws -> T {
        let client = client()
        defer { client.close() }
        do {
            return try await body(client)
        } catch let error as LedgerClientError {
            throw CLIError.from(error, socket: path)
        }
    }
}

/// `--json`.
struct FormatOptions: ParsableArguments {
    @Flag(help: "Print JSON (NDJSON for streams) instead of the human report.")
    var json = false
}

/// Times for --since/--until: RFC 3339, a date, or a duration ago (90s, 15m, 2h, 7d).
enum TimeArgument {
    static func parse(_ text: String, now: Int64 = WallClock.microseconds()) throws -> Int64 {
        if let absolute = Timestamp.parse(text) { return absolute }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        if let unit = text.last, let factor = units[unit], let amount = Int64(text.dropLast()), amount >= 0 {
            return now - amount * factor * 1_000_000
        }
        throw ValidationError("'\(text)' is not a time: use RFC 3339 (2026-11-21T10:00:00Z), a date (2026-11-21), or a duration ago (90s, 15m, 2h, 7d)")
    }
}

import LedgerAPI
