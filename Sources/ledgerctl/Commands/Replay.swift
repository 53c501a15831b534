import ArgumentParser
import Foundation
import Ledger
import LedgerAPI

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the audit trail, straight from the log.",
        discussion: """
            For each event: seq, time, key, version, transition, session IDs, reason and actor (the \
            uid/gid/pid of the process that wrote it). Filters combine. With --verify, checksums, the \
            hash chain and the invariants are checked from the first event while streaming; the first \
            problem stops the replay with exit status 1.

            Examples:
              # what happened to this conversation, and who did it
              ledgerctl replay --key slack:C123:thread9
              # every event naming session S1
              ledgerctl replay --session S1 --json | jq .
              # an owner's boots and sessions, last two hours
              ledgerctl replay --owner phantom --since 2h
              ledgerctl replay --from 1000 --to 2000 --verify
            """
    )

    @OptionGroup var data: DataDirectoryOptions
    @Option(help: "Only this conversation's events.") var key: String?
    @Option(help: "Only events of this owner (its boots and sessions).") var owner: String?
    @Option(help: "Only events naming this session ID (as session, reported, or superseded).") var session: String?
    @Option(help: "First seq.") var from: UInt64?
    @Option(help: "Last seq.") var to: UInt64?
    @Option(help: "From this time: RFC 3339, a date, or a duration ago (2h, 7d).") var since: String?
    @Option(help: "Before this time (same forms).") var until: String?
    @OptionGroup var format: FormatOptions
    @Flag(help: "Check checksums, the hash chain and I1-I3 while streaming.") var verify = false
    @Option(help: "Threads that render --json output (default: one per core, at most 4; 1: no extra threads).") var threads: Int?

    /// Events per chunk a render thread takes (a few MB of JSON).
    static let chunkSize: UInt64 = 8_192

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let from, let to, from > to { throw ValidationError("--from \(from) is after --to \(to)") }
        if let since { _ = try TimeArgument.parse(since) }
        if let until { _ = try TimeArgument.parse(until) }
    }

    func run() throws {
        let ledger = try data.openLedger()
        let sinceMicros = try since.map { try TimeArgument.parse($0) }
        let untilMicros = try until.map { try TimeArgument.parse($0) }
        let output = Output.standard
        var lines = EventLines()
        var writer = JSONWriter(capacity: 512)

        // Options read once: an ArgumentParser property wrapper costs a generic metadata lookup
        // on every access, which showed up as an eighth of a 1M-event replay.
        let json = format.json
        let key = key, owner = owner, session = session

        func emit(_ logged: LoggedEvent) {
            if json {
                writer.reset()
                EventJSON.write(logged, into: &writer)
                writer.newline()
                output.write(writer.bytes)
            } else {
                lines.add(logged, to: output)
            }
        }

        let filter = EventFilter(key: key, owner: owner, session: session)

        let failure: VerifyProblem? = try ledger.read { snapshot in
            let head = try snapshot.head().seq
            var first = max(1, from ?? 1)
            var last = min(head, to ?? head)
            if let sinceMicros { first = max(first, try Self.firstSeq(atOrAfter: sinceMicros, in: snapshot, head: head)) }
            if let untilMicros { last = min(last, try Self.firstSeq(atOrAfter: untilMicros, in: snapshot, head: head) - 1) }
            guard first <= last else { return nil }

            if verify {
                // The chain and the fold start at the first event, whatever is printed.
                var checker = ChainChecker()
                var problem: VerifyProblem?
                try snapshot.forEachRecord(from: 1, through: last) { seq, record in
                    switch checker.inspect(seq: seq, record: record) {
                    case .failure(let found):
                        problem = found
                        return false
                    case .success(let event):
                        if seq >= first && filter.matches(event) {
                            let hash = StoredRecord.storedHash(record)
                            emit(LoggedEvent(event: event, hash: hash))
                        }
                        return true
                    }
                }
                if problem == nil && checker.expected - 1 != last {
                    problem = VerifyProblem(seq: checker.expected, kind: .gap, message: "the log ends at seq \(checker.expected - 1)")
                }
                return problem
            }

            if let key {
                for seq in try snapshot.seqs(forKey: key, from: first) where seq <= last {
                    guard let record = try snapshot.record(seq) else { continue }
                    let decoded = try Self.decode(record, seq: seq)
                    if filter.matches(decoded.event) { emit(decoded) }
                }
                return nil
            }
            let renderThreads = threads ?? min(4, ProcessInfo.processInfo.activeProcessorCount)
            if json && renderThreads > 1 && last - first >= Self.chunkSize {
                let chunks = OrderedChunks(first: first, last: last, chunkSize: Self.chunkSize, threads: renderThreads)
                output.flush()
                try chunks.run(render: { range in Self.renderJSON(range, of: ledger, filter: filter) },
                               write: { output.writeBlock($0) })
                return nil
            }
            try snapshot.forEachRecord(from: first, through: last) { seq, record in
                let decoded = try Self.decode(record, seq: seq)
                if filter.matches(decoded.event) { emit(decoded) }
                return true
            }
            return nil
        }
        if !json { lines.flush(to: output) }
        output.flush()
        if let failure {
            throw CLIError.failed("verification failed at seq \(failure.seq): \(failure.kind.rawValue): \(failure.message)")
        }
    }

    /// Which events a replay prints: the `--key`, `--owner` and `--session` filters combined.
    struct EventFilter: Sendable {
        var key: String?
        var owner: String?
        var session: String?

        func matches(_ event: Event) -> Bool {
            if let key, event.key != key { return false }
            if let owner, event.owner != owner { return false }
            if let session, event.sessionId != session && event.reportedSessionId != session && event.supersedes != session { return false }
            return true
        }
    }

    /// NDJSON of the events of `range` that pass `filter`, from a read transaction of its own
    /// (a render thread's).
    static func renderJSON(_ range: ClosedRange<UInt64>, of ledger: Ledger, filter: EventFilter) -> OrderedChunks.Rendered {
        var writer = JSONWriter(capacity: Int(range.upperBound - range.lowerBound + 1) * 384)
        do {
            _ = try ledger.read { snapshot in
                try snapshot.forEachRecord(from: range.lowerBound, through: range.upperBound) { seq, record in
                    let decoded = try Self.decode(record, seq: seq)
                    if filter.matches(decoded.event) {
                        EventJSON.write(decoded, into: &writer)
                        writer.newline()
                    }
                    return true
                }
            }
            return OrderedChunks.Rendered(bytes: writer.bytes)
        } catch {
            return OrderedChunks.Rendered(bytes: writer.bytes, error: error)
        }
    }

    /// A record with its checksum checked; a damaged one stops the replay.
    static func decode(_ record: some Collection<UInt8>, seq: UInt64) throws -> LoggedEvent {
        do {
            let (event, hash) = try Array(record).withUnsafeBytes { try StoredRecord.decode($0) }
            return LoggedEvent(event: event, hash: hash)
        } catch {
            throw CLIError.failed("seq \(seq) is damaged (\(error)); run `ledgerctl verify`")
        }
    }

    static func decode(_ record: UnsafeRawBufferPointer, seq: UInt64) throws -> LoggedEvent {
        do {
            let (event, hash) = try StoredRecord.decode(record)
            return LoggedEvent(event: event, hash: hash)
        } catch {
            throw CLIError.failed("seq \(seq) is damaged (\(error)); run `ledgerctl verify`")
        }
    }

    /// The first seq whose event is at or after `time` (head + 1 if none): times never decrease
    /// along the log, so a binary search over seqs finds it.
    static func firstSeq(atOrAfter time: Int64, in snapshot: borrowing LedgerSnapshot, head: UInt64) throws -> UInt64 {
        var low: UInt64 = 1
        var high = head + 1
        while low < high {
            let middle = low + (high - low) / 2
            guard let event = try snapshot.event(middle) else { throw CLIError.failed("seq \(middle) is missing from the log") }
            if event.time < time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
