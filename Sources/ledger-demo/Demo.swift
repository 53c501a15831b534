import AgentSimulation
import Foundation
import LedgerClient
#if canImport(Glibc)
import Glibc
#endif

/// `make demo`: the incidents a naive session row cannot survive, side by side with ledgerd.
@main
struct Demo {
    /// Printed as it is (no argument parser here), so wrapped to fit 80 columns.
    static let usage = """
        USAGE: ledger-demo

        Runs two incidents from the brief (an error result's session ID persisted
        again, a stale resume after a container re-create) against a naive SQLite
        session row and against a ledgerd it starts in /tmp, prints what each store
        made of them and ledgerd's audit trail, and stops ledgerd. It takes no
        options; `make demo` builds and runs it.
        """

    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.contains(where: { $0 == "-h" || $0 == "--help" }) {
            print(usage)
            return
        }
        if let unknown = arguments.first {
            FileHandle.standardError.write(Data("ledger-demo: unknown argument '\(unknown)' (it takes none)\n\n\(usage)\n".utf8))
            exit(2)
        }
        let directory = "/tmp/ledger-demo-\(getpid())"
        let binaries = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .split(separator: "/").dropLast().reduce("") { $0 + "/" + $1 }
        let socket = directory + "/ledgerd.sock"
        let dataDirectory = directory + "/data"
        var daemon: Process?
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            daemon = try start(binaries + "/ledgerd", ["--data-dir", dataDirectory, "--socket", socket, "--log-level", "warning"])
            try waitForSocket(socket)
            print(bold("ledger demo") + ": two incidents from the brief, against a naive SQLite session row and against ledgerd")
            print("ledgerd is running on \(dataDirectory), socket \(socket)\n")
            let journeys: [(String, (StoreKind) async throws -> JourneyReport)] = [
                ("A", Journeys.errorResultRepersisted),
                ("B", Journeys.staleResumeAfterRecreate),
            ]
            for (_, journey) in journeys {
                let naive = try await journey(.naive(path: directory + "/naive-\(UUID().uuidString.prefix(6)).sqlite"))
                let ledger = try await journey(.ledger(socket: socket))
                print(bold("incident \(ledger.incident): \(ledger.title)"))
                print("  store      turns ok  failed  SDK calls (wasted)  stuck in a loop")
                for report in [naive, ledger] {
                    print("  " + pad(report.store, 10) + pad(String(report.succeededTurns), 10) + pad(String(report.failedTurns), 8)
                          + pad("\(report.sdkCalls) (\(report.wastedCalls))", 20) + (report.endsInLoop ? red("yes") : green("no")))
                }
                print("  audit trail of \(ledger.key) (ledgerctl replay --key):")
                let replay = try run(binaries + "/ledgerctl", ["replay", "--data-dir", dataDirectory, "--key", ledger.key])
                for line in replay.split(separator: "\n") { print("    " + line) }
                print("")
            }
        } catch {
            FileHandle.standardError.write(Data("demo failed: \(error)\n".utf8))
        }
        if let daemon {
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            print("ledgerd stopped (exit \(daemon.terminationStatus)); removing \(directory)")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func start(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        return process
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    static func waitForSocket(_ path: String) throws {
        for _ in 0..<2_000 {
            if UnixSocket.accepts(path) { return }
            usleep(10_000)
        }
        throw DemoError.ledgerdDidNotStart
    }

    enum DemoError: Error { case ledgerdDidNotStart }

    static let colours = isatty(1) == 1
    static func bold(_ s: String) -> String { colours ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    static func red(_ s: String) -> String { colours ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colours ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
}
