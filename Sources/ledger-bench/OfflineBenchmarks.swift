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
        print("rebuild: \(report.events) events in \(String(format: "%.2f", report.seconds)) s (\(Measurement.rate(Double(report.events), report.seconds))), cpu \(String(format: "%.2f", Measurement.cpuSeconds() - cpu)) s, peak RSS \(Measurement.megabytes(Measurement.peakResidentBytes()))")
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
