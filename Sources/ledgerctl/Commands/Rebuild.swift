import ArgumentParser
import Foundation
import Ledger
import LedgerAPI
import Logging
import Projections

struct Rebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the SQLite projection from the log and swap it in.",
        discussion: """
            Offline (the default) works on the data directory and refuses while \
            ledgerd runs on it; --online asks the running ledgerd to rebuild and swap \
            without stopping. Readers that have the old file open keep it until they \
            reopen.

            The index builds sort through temporary files in SQLite's temporary \
            directory (the first writable of $SQLITE_TMPDIR, $TMPDIR, /var/tmp, \
            /usr/tmp, /tmp), about 24 MB per million events. Without one that has \
            room they sort in memory, more slowly; the output says so.

            Examples:
              ledgerctl rebuild --data-dir /var/lib/ledger
              ledgerctl rebuild --online --socket /run/ledger/ledgerd.sock
            """
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Ask the running ledgerd to rebuild (over its socket).") var online = false
    @OptionGroup var format: FormatOptions

    func run() async throws {
        if online {
            let report = try await socket.call { try await $0.rebuildProjection() }
            if format.json {
                var w = JSONWriter()
                w.value(report)
                Output.standard.write(w.bytes)
                Output.standard.line()
            } else if case .object(let object) = report {
                func number(_ key: String) -> String {
                    if case .number(let n)? = object[key] { return n.literal }
                    return "?"
                }
                let seconds = Double(number("seconds")) ?? 0
                let events = UInt64(number("events")) ?? 0
                var note = ""
                if case .string(let sortedIn)? = object["sortedIn"], sortedIn.hasPrefix("memory") { note = "; indexes sorted in \(sortedIn)" }
                Output.standard.line("rebuilt \(Format.count(events)) events in \(Format.seconds(seconds)) (\(Format.rate(events, seconds))), generation \(number("generation")), online\(note)")
            }
            return
        }
        let lock: InstanceLock
        do {
            lock = try InstanceLock(path: data.path + "/ledgerd.lock")
        } catch let busy as InstanceLock.Busy {
            throw CLIError.failed("ledgerd\(busy.holder.map { " (pid \($0))" } ?? "") is running on \(data.path); use --online")
        }
        let ledger = try data.openLedger()
        var logger = Logger(label: "ledgerctl")
        logger.logLevel = .critical  // a damaged projection is rebuilt anyway; report it as such
        let projection = try Projection.open(directory: data.path, ledger: ledger, logger: logger)
        let bar = ProgressBar("rebuilding")
        let report = try projection.rebuild { done, total in bar.update(done, of: total) }
        bar.finish()
        projection.close()
        withExtendedLifetime(lock) {}
        if format.json {
            var w = JSONWriter()
            w.beginObject()
            w.key("generation"); w.value(report.generation)
            w.key("events"); w.value(report.events)
            w.key("seconds"); w.value(report.seconds)
            w.key("eventsPerSecond"); w.value(report.eventsPerSecond)
            w.key("sortedIn"); w.value(report.sortedIn)
            w.endObject()
            Output.standard.write(w.bytes)
            Output.standard.line()
        } else {
            Output.standard.line("rebuilt \(Format.count(report.events)) events in \(Format.seconds(report.seconds)) (\(Format.rate(report.events, report.seconds))), generation \(report.generation)\(report.sortNote)")
        }
    }
}
