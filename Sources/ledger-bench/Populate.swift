import Foundation
import ArgumentParser
import Ledger

/// Fills a data directory with a log of the turn mix, as fast as the ledger appends.
struct Populate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a ledger of N events of the turn mix on K keys.")

    @Option(help: "The data directory to create (its log goes in DIR/log).") var dataDir: String
    @Option(help: "Number of events.") var events: Int = 1_000_000
    @Option(help: "Number of conversation keys.") var keys: Int = 10_000
    @Option(help: "Commands per append (one durable commit each).") var batch: Int = 512
    @Flag(help: "Write every key once first (so all K keys exist), then the random mix.") var fillKeys = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: dataDir + "/log", withIntermediateDirectories: true)
        let ledger = try Ledger.open(directory: dataDir + "/log")
        let head = try ledger.head().seq
        guard head == 0 else { throw ValidationError("\(dataDir) already holds \(head) events") }
        var mix = TurnMix(keys: keys)
        let started = Measurement.monotonic()
        var appended = 0
        var nextFill = 0
        while appended < events {
            var indexes: [Int] = []
            var commands: [CommandEnvelope] = []
            var used = Set<Int>()
            while commands.count < min(batch, events - appended) {
                let (index, key, request): (Int, String, TransitionRequest)
                if fillKeys && nextFill < keys {
                    index = nextFill
                    key = mix.keyName(nextFill)
                    request = mix.request(for: nextFill)
                    nextFill += 1
                } else {
                    (index, key, request) = mix.next()
                }
                // one command per key per batch keeps the generator's view exact
                guard used.insert(index).inserted else { continue }
                indexes.append(index)
                commands.append(CommandEnvelope(.transition(key: key, request), actor: ActorIdentity(uid: 1000, gid: 1000, pid: 1)))
            }
            let result = try ledger.append(commands, now: WallClock.microseconds())
            for (index, outcome) in zip(indexes, result.outcomes) {
                if case .accepted(_, let conversation?) = outcome {
                    mix.observe(index, version: conversation.version, session: conversation.sessionId)
                }
            }
            appended += result.events.count
        }
        // As ledgerd does at a clean shutdown; timed, since a populate that left it to the next
        // open would look faster than it is.
        try ledger.writeBackHeadState()
        let seconds = Measurement.monotonic() - started
        print("populated \(dataDir): \(appended) events on \(keys) keys in \(String(format: "%.2f", seconds)) s (\(Measurement.rate(Double(appended), seconds)))")
    }
}
