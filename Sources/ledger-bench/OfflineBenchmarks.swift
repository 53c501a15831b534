import ArgumentParser
import Foundation
import Ledger
import Logging
import Projections

/// Rebuilds the projection of a data directory from its log and reports the rate.
struct RebuildBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Time a projection rebuild from the log.")

    @Option(help: "A data directory (see `populate`).") var dataDir: String

    func run() throws {
        let ledger = try Ledger.open(directory: dataDir + "/log")
        let projection = try Projection.open(directory: dataDir, ledger: ledger)
        let cpu = Measurement.cpuSeconds()
        let report = try projection.rebuild()
        print("rebuild: \(report.events) events in \(String(format: "%.2f", report.seconds)) s (\(Measurement.rate(Double(report.events), report.seconds))), cpu \(String(format: "%.2f", Measurement.cpuSeconds() - cpu)) s, peak RSS \(Measurement.megabytes(Measurement.peakResidentBytes())), indexes sorted in \(report.sortedIn)")
    }
}

/// Verifies a whole log and reports the rate.
struct VerifyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Time a full verification of the log.")

    @Option(help: "A data directory (see `populate`).") var dataDir: String

    func run() throws {
        let ledger = try Ledger.open(directory: dataDir + "/log", options: LedgerOptions(readOnly: true))
        let started = Measurement.monotonic()
        let report = try LedgerVerifier.verify(ledger)
        let seconds = Measurement.monotonic() - started
        print("verify: \(report.eventsChecked) events in \(String(format: "%.2f", seconds)) s (\(Measurement.rate(Double(report.eventsChecked), seconds))), valid: \(report.isValid), peak RSS \(Measurement.megabytes(Measurement.peakResidentBytes()))")
    }
}

/// Applies a log to a fresh projection through the live path (`Projection.apply`), in batches
/// of N, to measure the projection's own cost per event at a given batch size.
struct ApplyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apply", abstract: "Time live projection applies from a log, in batches of N.")

    @Option(help: "A populated data directory (its log is read; the projection goes to a temp dir).") var dataDir: String
    @Option(help: "Events per apply (one SQLite transaction each).") var batch: Int = 16
    @Option(help: "Events to apply.") var events: Int = 50_000

    func run() throws {
        let ledger = try Ledger.open(directory: dataDir + "/log", options: LedgerOptions(readOnly: true))
        let scratch = "/tmp/lgb-apply-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let projection = try Projection.open(directory: scratch, ledger: try Ledger.open(directory: scratch + "/emptylog"), logger: logger)
        var committed: [[CommittedEvent]] = []
        try ledger.read { snapshot in
            var chunk: [CommittedEvent] = []
            try snapshot.forEachRecord(from: 1, through: UInt64(events)) { _, record in
                let bytes = Array(record)
                let (event, hash) = try bytes.withUnsafeBytes { try StoredRecord.decode($0) }
                chunk.append(CommittedEvent(event: event, stored: bytes, hash: hash))
                if chunk.count == batch { committed.append(chunk); chunk = [] }
                return true
            }
            if !chunk.isEmpty { committed.append(chunk) }
        }
        let started = Measurement.monotonic()
        for chunk in committed { try projection.apply(chunk) }
        let seconds = Measurement.monotonic() - started
        let count = committed.reduce(0) { $0 + $1.count }
        print(String(format: "apply: %d events in batches of %d: %.2f s, %.1f us/event, %.3f ms/batch", count, batch, seconds, seconds / Double(count) * 1e6, seconds / Double(committed.count) * 1e3))
    }
}
