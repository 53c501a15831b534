import ArgumentParser
import Foundation
import Ledger
import LedgerAPI
import Projections

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the whole log and the projection against it.",
        discussion: """
            Checks every record's checksum, the hash chain over the stored bytes, gapless seqs and \
            versions, non-decreasing time, and I1-I3 by folding the whole log with the ledger's state \
            machine; then the head state stored beside the log, and the SQLite projection row by row, \
            against that fold. Safe while ledgerd runs. Exit status 1 names the first bad seq or row.

            Examples:
              ledgerctl verify
              ledgerctl verify --data-dir /var/lib/ledger --json
            """
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var format: FormatOptions
    @Flag(help: "Check the log only, not the projection.") var logOnly = false

    func run() throws {
        let started = Date()
        let ledger = try data.openLedger()
        let bar = ProgressBar("verifying the log")
        let report = try LedgerVerifier.verify(ledger) { done, total in bar.update(done, of: total) }
        bar.finish()
        var projectionLine: String?
        var mismatch: ProjectionMismatch?
        var projectionChecked = false
        if report.problem == nil && !logOnly {
            let files = ProjectionFiles(directory: data.path)
            if files.liveGeneration() != nil {
                let projection: Projection
                do {
                    projection = try Projection.openReadOnly(directory: data.path, ledger: ledger)
                } catch {
                    throw CLIError.failed("the projection in \(data.path) cannot be opened: \(error)")
                }
                let compareBar = ProgressBar("comparing the projection")
                do {
                    mismatch = try projection.compareWithLog(fold: (report.state, report.lastSeq)) { done, total in compareBar.update(done, of: total) }
                } catch let problem as VerifyProblem {
                    mismatch = ProjectionMismatch(table: "log", row: "\(problem.seq)", message: problem.description)
                } catch {
                    mismatch = ProjectionMismatch(table: "projection", row: "-", message: "unreadable: \(error)")
                }
                compareBar.finish()
                let checkpoint = (try? projection.checkpoint())?.seq ?? 0
                projectionChecked = true
                projectionLine = "generation \(projection.generation), checkpoint seq \(Format.count(checkpoint))"
            } else {
                projectionLine = "none (ledgerd builds it at start)"
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let ok = report.problem == nil && mismatch == nil

        if format.json {
            var w = JSONWriter()
            w.beginObject()
            w.key("ok"); w.value(ok)
            w.key("events"); w.value(report.eventsChecked)
            w.key("headSeq"); w.value(report.recordedHead.seq)
            w.key("chainHead"); w.value(report.chainHead.hex)
            w.key("conversations"); w.value(report.state.conversations.count)
            w.key("sessionIds"); w.value(report.state.sessions.count)
            w.key("owners"); w.value(report.state.owners.count)
            w.key("problem")
            if let problem = report.problem {
                w.beginObject()
                w.key("seq"); w.value(problem.seq)
                w.key("kind"); w.value(problem.kind.rawValue)
                w.key("message"); w.value(problem.message)
                w.endObject()
            } else { w.null() }
            w.key("projection")
            if let mismatch {
                w.beginObject()
                w.key("table"); w.value(mismatch.table)
                w.key("row"); w.value(mismatch.row)
                w.key("message"); w.value(mismatch.message)
                w.endObject()
            } else {
                w.value(projectionChecked ? "matches" : "not checked")
            }
            w.key("seconds"); w.value(seconds)
            w.endObject()
            Output.standard.write(w.bytes)
            Output.standard.line()
        } else {
            var table = Table("CHECK", "RESULT")
            table.add("log", data.logDirectory)
            table.add("events", "\(Format.count(report.eventsChecked)) checked, head seq \(Format.count(report.recordedHead.seq))")
            table.add("chain head", report.chainHead.hex)
            if let problem = report.problem {
                table.add("log checks", Style.red("FAILED at seq \(problem.seq): \(problem.kind.rawValue): \(problem.message)"))
            } else {
                table.add("log checks", Style.green("ok") + ": checksums, hash chain, gapless seqs and versions, time order, I1 I2 I3, head state")
                table.add("state", "\(Format.count(report.state.conversations.count)) conversations, \(Format.count(report.state.sessions.count)) session IDs, \(Format.count(report.state.owners.count)) owners")
            }
            if let projectionLine { table.add("projection", projectionLine) }
            if let mismatch {
                table.add("projection rows", Style.red("FAILED: \(mismatch.table) row \(mismatch.row): \(mismatch.message)"))
            } else if projectionChecked {
                table.add("projection rows", Style.green("ok") + ": equal to a fresh fold of the log")
            }
            table.add("time", Format.seconds(seconds) + (seconds > 0 ? " (\(Format.rate(report.eventsChecked, seconds)))" : ""))
            Output.standard.write(table.render())
            Output.standard.line(ok ? Style.green("OK") : Style.red("FAILED"))
        }
        if let problem = report.problem {
            throw CLIError.failed("the log fails verification at seq \(problem.seq) (\(problem.kind.rawValue))")
        }
        if let mismatch {
            throw CLIError.failed("the projection differs from the log: \(mismatch.table) row \(mismatch.row)")
        }
    }
}
