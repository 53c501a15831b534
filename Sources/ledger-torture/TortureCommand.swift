import ArgumentParser
import Dispatch
import Foundation
import Ledger
import LedgerAPI
import LedgerClient
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `ledger-torture`: crash ledgerd again and again under load, and check after every crash that
/// nothing it acknowledged was lost and nothing it did not was half done.
@main
struct TortureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-torture",
        abstract: "Kill -9 ledgerd under load, at random moments and at named failpoints, and check every acknowledged write.",
        discussion: """
            Each iteration starts ledgerd (armed with a failpoint, or to be killed at a random moment), \
            drives concurrent clients doing the turn mix on shared keys, lets it die, restarts it, and \
            checks: every acknowledged transition is in the log with the version it was given; the \
            log verifies and the projection equals a fresh fold (ledgerctl verify); the acknowledged \
            operations are linearizable against the log order. Exit status 1 on any violation.

            Examples:
              ledger-torture --iterations 200            # make torture N=200
              ledger-torture --iterations 5 --window 1   # the CI size
            """)

    @Option(help: "Crashes to inflict.") var iterations: Int = 20
    @Option(help: "Concurrent clients.") var clients: Int = 16
    @Option(help: "Conversation keys the clients share.") var keys: Int = 32
    @Option(help: "Seconds of load per iteration at most.") var window: Double = 2
    @Option(help: "Random seed (default: the time).") var seed: UInt64?
    @Option(help: "Keep the data directory here (default: a temporary one, removed at the end).") var dataDir: String?

    func run() async throws {
        var random = SplitMix64(seed: seed ?? UInt64(Date().timeIntervalSince1970 * 1000))
        let binaries = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .split(separator: "/").dropLast().reduce("") { $0 + "/" + $1 }
        let base = "/tmp/lg-torture-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if dataDir == nil { try? FileManager.default.removeItem(atPath: base) } }
        let data = dataDir ?? base + "/data"
        let socket = base + "/s.sock"
        var totals = (writes: 0, reads: 0, violations: 0, unknown: 0)
        var crashes: [String: Int] = [:]

        for iteration in 1...iterations {
            let modes: [Failpoint?] = [nil, .afterCommit, .midProjection, .afterApply, .rebuildSwap, .midWriteBack]
            let failpoint = modes[Int(random.next() % UInt64(modes.count))]
            let hit = Int(1 + random.next() % 60)
            var environment: [String: String] = [:]
            if let failpoint {
                environment["LEDGERD_FAILPOINT"] = failpoint.rawValue
                environment["LEDGERD_FAILPOINT_HIT"] = String(failpoint == .rebuildSwap ? 1 : failpoint == .midWriteBack ? 1 + hit % 8 : hit)
            }
            // Most runs write head state back every few dozen events, so kills (random or at
            // mid-write-back) land before, during and after write-backs, and the restart folds a
            // log tail over a state environment of every age.
            if failpoint == .midWriteBack || random.next() % 3 != 0 {
                environment["LEDGERD_WRITE_BACK_EVENTS"] = String(16 + random.next() % 200)
                environment["LEDGERD_WRITE_BACK_INTERVAL_MS"] = String(random.next() % 50)
            }
            // Half the runs hold each projection apply a few ms, so reads often arrive while the
            // projection is behind writes already answered: they must wait for it, never answer
            // from behind it.
            if random.next() % 2 == 0 {
                environment["LEDGERD_PROJECTION_DELAY_MS"] = String(1 + random.next() % 5)
            }
            let daemon = try Daemon.start(binaries + "/ledgerd", data: data, socket: socket, environment: environment)
            let killAfter = failpoint == nil ? 0.05 + Double(random.next() % 1_000) / 1_000 * window : window
            let recorder = Recorder()
            let stop = StopFlag()
            let started = DispatchTime.now().uptimeNanoseconds
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    let clientSeed = random.next()
                    group.addTask {
                        await Self.client(client, iteration: iteration, socket: socket, keys: keys, seed: clientSeed, recorder: recorder, stop: stop)
                    }
                }
                if failpoint == .rebuildSwap {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(100))
                        _ = try? await LedgerClient(socketPath: socket, maxIdleConnections: 1).rebuildProjection()
                    }
                }
                group.addTask {
                    // kill -9 at the chosen moment (failpoint runs: when the window ends, if it did not fire)
                    while !stop.isSet && daemon.isRunning
                            && Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 < killAfter {
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    daemon.kill9()
                    stop.set()
                }
            }
            let died = daemon.diedByItself ? "failpoint \(failpoint!.rawValue)#\(environment["LEDGERD_FAILPOINT_HIT"] ?? "1")" : "kill -9"
            crashes[daemon.diedByItself ? failpoint!.rawValue : "kill -9 at a random moment", default: 0] += 1

            // Restart cleanly, then check everything.
            let restarted = try Daemon.start(binaries + "/ledgerd", data: data, socket: socket, environment: [:])
            let verify = try Daemon.run(binaries + "/ledgerctl", ["verify", "--data-dir", data, "--json"])
            var check = HistoryCheck()
            if verify.status != 0 { check.violations.append("ledgerctl verify failed: \(verify.output)") }
            let ledger = try Ledger.open(directory: data + "/log", options: LedgerOptions(readOnly: true))
            let log = try HistoryCheck.fold(ledger)
            let operations = recorder.operations
            check.check(operations, against: log)
            _ = try? restarted.terminate()
            let unknown = operations.filter { if case .unknown = $0.answer { return true }; return false }.count
            totals.writes += check.writesChecked
            totals.reads += check.readsChecked
            totals.violations += check.violations.count
            totals.unknown += unknown
            say("iteration \(iteration): \(died) after \(String(format: "%.2f", Double(daemon.diedAt - started) / 1e9)) s; \(check.writesChecked) acknowledged writes and \(check.readsChecked) reads checked, \(unknown) unanswered; \(check.violations.isEmpty ? "ok" : "\(check.violations.count) VIOLATIONS")")
            for violation in check.violations.prefix(10) { say("  violation: \(violation)") }
        }
        say("crashes: \(iterations) (\(crashes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))")
        say("acknowledged writes checked: \(totals.writes), reads checked: \(totals.reads), unanswered operations: \(totals.unknown)")
        say("violations: \(totals.violations)")
        if totals.violations > 0 { throw ExitCode(1) }
    }

    /// One client: read a conversation, decide a transition from what it read, write it; until
    /// told to stop or ledgerd stops answering.
    static func client(_ index: Int, iteration: Int, socket: String, keys: Int, seed: UInt64, recorder: Recorder, stop: StopFlag) async {
        let client = LedgerClient(socketPath: socket, maxIdleConnections: 1)
        defer { client.close() }
        var random = SplitMix64(seed: seed)
        var counter = 0
        func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        while !stop.isSet {
            let key = "k\(random.next() % UInt64(keys))"
            var started = now()
            let state: ConversationState
            do {
                state = try await client.session(key)
                recorder.add(Operation(client: index, key: key, kind: .read, invoked: started, answered: now(),
                                       answer: .read(version: state.version, session: state.sessionId)))
            } catch {
                recorder.add(Operation(client: index, key: key, kind: .read, invoked: started, answered: now(), answer: .unknown))
                return
            }
            counter += 1
            let fresh = "c\(index)-i\(iteration)-\(counter)"
            let roll = random.next() % 100
            let request: TransitionRequest
            if let session = state.sessionId {
                switch roll {
                case 0..<55: request = .resumed(session, expectedVersion: state.version)
                case 55..<75: request = .created(fresh, expectedVersion: state.version)
                case 75..<90: request = .errored(session, reason: "error_during_execution", reportedSessionId: roll % 2 == 0 ? fresh : session)
                default: request = .cleared(session, reason: "reset")
                }
            } else {
                request = roll < 85 ? .created(fresh, expectedVersion: state.version) : .cleared(reason: "admin reset")
            }
            started = now()
            let answer: Operation.Answer
            do {
                switch try await client.transition(key, request) {
                case .accepted(let result):
                    answer = .accepted(seq: result.seq, version: result.version, session: result.session.sessionId, appended: result.appended)
                case .rejected(let code, _, let current):
                    answer = .rejected(code: code, version: current.version, session: current.sessionId)
                }
            } catch {
                recorder.add(Operation(client: index, key: key, kind: .transition(request), invoked: started, answered: now(), answer: .unknown))
                return
            }
            recorder.add(Operation(client: index, key: key, kind: .transition(request), invoked: started, answered: now(), answer: answer))
        }
    }
}

/// Tells the clients of an iteration to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// Prints a line at once (the output is often piped to a log).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The operations of a run, from every client.
final class Recorder: Sendable {
    private let storage = Mutex<[Operation]>([])
    func add(_ operation: Operation) { storage.withLock { $0.append(operation) } }
    var operations: [Operation] { storage.withLock { $0 } }
}

/// A ledgerd process of the torture.
final class Daemon: @unchecked Sendable {
    let process: Process
    private(set) var diedAt: UInt64 = 0
    private var killed = false

    private init(process: Process) { self.process = process }

    static func start(_ binary: String, data: String, socket: String, environment: [String: String]) throws -> Daemon {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--data-dir", data, "--socket", socket, "--log-level", "error"]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        try process.run()
        let daemon = Daemon(process: process)
        for _ in 0..<3_000 {
            if !process.isRunning { throw TortureError("ledgerd exited at start with \(process.terminationStatus)") }
            if let status = try? run("/usr/bin/curl", ["-sf", "--unix-socket", socket, "http://localhost/healthz"]), status.status == 0 { return daemon }
            usleep(10_000)
        }
        throw TortureError("ledgerd did not become ready")
    }

    var isRunning: Bool { process.isRunning }

    /// True when ledgerd killed itself at its failpoint (rather than being killed by us).
    var diedByItself: Bool { !killed }

    func kill9() {
        if process.isRunning {
            killed = true
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        diedAt = DispatchTime.now().uptimeNanoseconds
    }

    func terminate() throws -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

struct TortureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
