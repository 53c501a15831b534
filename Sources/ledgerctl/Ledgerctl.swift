import ArgumentParser
import Foundation
import Ledger
import LedgerClient
#if canImport(Glibc)
import Glibc
#endif

@main
struct Ledgerctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerctl",
        abstract: "Operate a session ledger: audit its log, verify and rebuild it, reset conversations.",
        discussion: """
            Offline commands read the data directory directly (safe while ledgerd runs: the log is \
            opened read-only, and LMDB readers never block the writer): replay, verify, rebuild, \
            backup, restore, export, import. Online commands talk to ledgerd over its socket: \
            status, get, history, sessions, clear, boot, tail, rebuild --online.

            Every command prints a human report by default and JSON (NDJSON for streams) with --json. \
            Exit codes: 0 ok, 1 check failed or not found, 2 usage, 3 ledgerd unreachable.
            """,
        subcommands: [Replay.self, Verify.self, Rebuild.self, Status.self, Get.self, History.self, Sessions.self,
                      Clear.self, Boot.self, Tail.self, Backup.self, Restore.self, Export.self, Import.self]
    )

    /// Runs the command with the exit codes above. Writes to a closed pipe end the program
    /// quietly (`ledgerctl replay | head`).
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        let code: Int32
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            Output.standard.flush()
            code = 0
        } catch let error as CLIError {
            Output.standard.flush()
            Output.error("error: \(error.message)")
            code = error.exitCode
        } catch let error as LedgerClientError {
            Output.standard.flush()
            let failure = CLIError.from(error, socket: "the socket")
            Output.error("error: \(failure.message)")
            code = failure.exitCode
        } catch {
            Output.standard.flush()
            let exit = exitCode(for: error)
            if exit == .success {
                Output.standard.write(fullMessage(for: error) + "\n")
                Output.standard.flush()
                code = 0
            } else if exit == .validationFailure || error is ValidationError || "\(type(of: error))".contains("ParserError") {
                Output.error(fullMessage(for: error))
                code = 2
            } else if let lockBusy = error as? InstanceLock.Busy {
                Output.error("error: \(lockBusy)")
                code = 1
            } else {
                Output.error("error: \(fullMessage(for: error))")
                code = exit.rawValue == 64 ? 2 : 1
            }
        }
        Glibc.exit(code)
    }
}
