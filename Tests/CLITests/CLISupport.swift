import Foundation
import Ledger
import LedgerAPI
import LedgerClient
import LedgerTestSupport
import Testing

/// Runs the built `ledgerctl`, off the cooperative pool (see `offThePool`).
func ledgerctl(_ arguments: String..., environment: [String: String] = [:]) async throws -> CommandResult {
    try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), arguments, environment: environment)
}

func ledgerctl(_ arguments: [String]) async throws -> CommandResult {
    try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), arguments)
}

/// Parses NDJSON output into JSON values (every line must parse).
func jsonLines(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [JSONValue] {
    text.split(separator: "\n").compactMap { line in
        do { return try JSONParser.parse(String(line)) } catch {
            Issue.record("not JSON: \(line): \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

func member(_ value: JSONValue, _ name: String) -> JSONValue? {
    if case .object(let object) = value { return object[name] }
    return nil
}

func string(_ value: JSONValue?, _ name: String) -> String? {
    if case .string(let s)? = value.flatMap({ member($0, name) }) { return s }
    return nil
}

func number(_ value: JSONValue?, _ name: String) -> UInt64? {
    if case .number(let n)? = value.flatMap({ member($0, name) }) { return n.unsignedValue }
    return nil
}

/// A ledger with a known history written through a running ledgerd.
func populatedDaemon(keys: Int = 6, turns: Int = 4) async throws -> Daemon {
    let daemon = try Daemon()
    let client = daemon.client()
    _ = try await client.boot(owner: "rt-a", environment: RuntimeEnvironment(volume: "v1"))
    for k in 0..<keys {
        let key = "conv-\(k)"
        var version: UInt64 = 0
        for t in 0..<turns {
            let outcome = try await client.transition(key, .created("s-\(k)-\(t)", expectedVersion: version, owner: k % 2 == 0 ? "rt-a" : "rt-b"))
            version = outcome.session.version
        }
        if k % 3 == 1 {
            let outcome = try await client.transition(key, .errored("s-\(k)-\(turns - 1)", reason: "error_during_execution", reportedSessionId: "ghost-\(k)"))
            version = outcome.session.version
        }
    }
    return daemon
}

/// Damages a compacted copy of a data directory's log (each record's bytes occur once in a
/// compacted data.mdb), so the original stays intact.
enum LogDamage {
    /// Makes a compacted copy with `ledgerctl backup` and returns its data directory.
    static func copy(of dataDirectory: String, into directory: TemporaryDirectory, name: String) async throws -> String {
        let destination = directory.join(name)
        let result = try await ledgerctl("backup", destination, "--data-dir", dataDirectory)
        precondition(result.status == 0, result.stderr)
        return destination
    }

    /// Flips one byte of the record stored at `seq`, in the file itself.
    static func flipByte(inRecord seq: UInt64, of dataDirectory: String) throws {
        let record: [UInt8] = try {
            let ledger = try Ledger.open(directory: dataDirectory + "/log", options: LedgerOptions(readOnly: true))
            return try ledger.read { try $0.record(seq)! }
        }()
        let path = dataDirectory + "/log/data.mdb"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offsets = occurrences(of: record, in: bytes)
        precondition(offsets.count == 1, "the record occurs \(offsets.count) times in a compacted copy")
        bytes[offsets[0] + record.count / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Removes the record at `seq` from the log (through LMDB, as a tool with write access could).
    static func drop(_ seq: UInt64, of dataDirectory: String) throws {
        let environment = try LMDBEnvironment.open(directory: dataDirectory + "/log")
        let events = try environment.database(named: "events")
        try environment.write { txn in _ = try txn.delete(events, key: seqKey(seq)) }
    }

    /// Swaps the records at `seq` and `seq + 1`.
    static func swap(_ seq: UInt64, of dataDirectory: String) throws {
        let environment = try LMDBEnvironment.open(directory: dataDirectory + "/log")
        let events = try environment.database(named: "events")
        try environment.write { txn in
            let a = Array(try txn.get(events, key: seqKey(seq))!)
            let b = Array(try txn.get(events, key: seqKey(seq + 1))!)
            try txn.put(events, key: seqKey(seq), value: b)
            try txn.put(events, key: seqKey(seq + 1), value: a)
        }
    }

    static func seqKey(_ seq: UInt64) -> [UInt8] { withUnsafeBytes(of: seq.bigEndian) { Array($0) } }

    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard let first = needle.first, needle.count <= haystack.count else { return [] }
        var found: [Int] = []
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index..<index + needle.count].elementsEqual(needle) { found.append(index) }
            index += 1
        }
        return found
    }
}
