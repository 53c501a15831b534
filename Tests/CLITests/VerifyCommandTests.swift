import Foundation
import Ledger
import LedgerTestSupport
import Testing

@Suite struct VerifyCommandTests {
    @Test func verifyPassesOnACleanLedgerWhileLedgerdRuns() async throws {
        let daemon = try await populatedDaemon()
        let result = try await ledgerctl("verify", "--data-dir", daemon.dataDirectory)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("OK"))
        #expect(result.stdout.contains("projection rows  ok"))
        let json = jsonLines(try await ledgerctl("verify", "--data-dir", daemon.dataDirectory, "--json").stdout)
        #expect(json.count == 1)
        #expect(member(json[0], "ok") == .bool(true))
        #expect(string(json[0], "projection") == "matches")
    }

    @Test(arguments: ["flipped byte", "dropped event", "reordered pair"])
    func verifyNamesTheFirstBadSeq(damage: String) async throws {
        let daemon = try await populatedDaemon()
        let scratch = TemporaryDirectory("vd")
        let copy = try await LogDamage.copy(of: daemon.dataDirectory, into: scratch, name: "copy")
        let expected: (seq: UInt64, kind: String)
        switch damage {
        case "flipped byte":
            try LogDamage.flipByte(inRecord: 7, of: copy)
            expected = (7, "checksum")
        case "dropped event":
            try LogDamage.drop(12, of: copy)
            expected = (12, "gap")
        default:
            try LogDamage.swap(15, of: copy)
            expected = (15, "misplaced")
        }
        let result = try await ledgerctl("verify", "--data-dir", copy, "--json")
        #expect(result.status == 1)
        let report = try #require(jsonLines(result.stdout).first)
        #expect(member(report, "ok") == .bool(false))
        #expect(number(member(report, "problem"), "seq") == expected.seq)
        #expect(string(member(report, "problem"), "kind") == expected.kind)
        let human = try await ledgerctl("verify", "--data-dir", copy)
        #expect(human.status == 1)
        #expect(human.stdout.contains("FAILED at seq \(expected.seq)"))
        #expect(human.stderr.contains("seq \(expected.seq)"))
    }

    @Test func verifyNamesAProjectionRowThatDiffers() async throws {
        let daemon = try await populatedDaemon()
        try daemon.terminate()
        let queue = try GRDBQueue(path: daemon.dataDirectory + "/projection.sqlite")
        try queue.execute("UPDATE sessions SET version = 99 WHERE key = 'conv-2'")
        let result = try await ledgerctl("verify", "--data-dir", daemon.dataDirectory)
        #expect(result.status == 1)
        #expect(result.stdout.contains("sessions row conv-2"))
    }

    @Test func verifyOnAMissingLedgerIsAClearFailure() async throws {
        let result = try await ledgerctl("verify", "--data-dir", "/tmp/definitely-not-a-ledger")
        #expect(result.status == 1)
        #expect(result.stderr.contains("no ledger in /tmp/definitely-not-a-ledger"))
    }
}

import GRDB

/// A tiny wrapper so tests can run one SQL statement against a projection file.
struct GRDBQueue {
    let queue: DatabaseQueue
    init(path: String) throws { queue = try DatabaseQueue(path: path) }
    func execute(_ sql: String) throws {
        try queue.write { try $0.execute(sql: sql) }
        try queue.close()
    }
}
