import Testing
@testable import Ledger

/// `verify` names the first bad seq for each kind of damage. The damage is done through LMDB
/// itself, bypassing the ledger, as a tool or an attacker with write access to data.mdb would.
@Suite struct VerifyTests {
    /// A ledger of 20 events on a few keys.
    func populated() throws -> LedgerFixture {
        let f = try LedgerFixture()
        for i in 0..<5 {
            try f.accept("k\(i)", .created("s\(i)", expectedVersion: 0))
            try f.accept("k\(i)", .resumed("s\(i)", expectedVersion: 1))
            try f.accept("k\(i)", .errored("s\(i)", reason: "boom", reportedSessionId: "r\(i)"))
            try f.accept("k\(i)", .created("t\(i)", expectedVersion: 3))
        }
        #expect(try f.ledger.head().seq == 20)
        return f
    }

    func damage(_ f: LedgerFixture, _ body: (borrowing LMDBTransaction, LedgerLayout) throws -> Void) throws {
        try f.ledger.environment.write { txn in try body(txn, f.ledger.layout) }
    }

    func record(_ f: LedgerFixture, _ seq: UInt64) throws -> [UInt8] {
        try f.ledger.read { try $0.record(seq)! }
    }

    @Test func aCleanLedgerVerifies() throws {
        let f = try populated()
        var calls = 0
        let report = try LedgerVerifier.verify(f.ledger) { done, total in
            calls += 1
            #expect(done <= total)
        }
        #expect(report.isValid)
        #expect(report.eventsChecked == 20)
        #expect(report.chainHead == (try f.ledger.head().hash))
        #expect(calls >= 1)
    }

    @Test(arguments: [0, 5, -40, -1])
    func aFlippedByteIsNamed(offset: Int) throws {
        let f = try populated()
        var bytes = try record(f, 9)
        let index = offset >= 0 ? offset : bytes.count + offset
        bytes[index] ^= 0x20
        try damage(f) { txn, layout in try txn.put(layout.events, key: LedgerLayout.seqKey(9), value: bytes) }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 9)
        #expect(report.eventsChecked == 8)
        // a byte in the body or checksum fails the CRC; a byte in the stored hash fails the chain
        #expect(report.problem?.kind == (index >= bytes.count - 32 ? .chain : .checksum))
    }

    @Test func aDroppedRecordIsNamed() throws {
        let f = try populated()
        try damage(f) { txn, layout in try txn.delete(layout.events, key: LedgerLayout.seqKey(12)) }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 12)
        #expect(report.problem?.kind == .gap)
    }

    @Test func aDroppedTailIsNamedByTheHead() throws {
        let f = try populated()
        try damage(f) { txn, layout in try txn.delete(layout.events, key: LedgerLayout.seqKey(20)) }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 20)
        #expect(report.problem?.kind == .head)
    }

    @Test func aSwappedPairIsNamed() throws {
        let f = try populated()
        let a = try record(f, 6), b = try record(f, 7)
        try damage(f) { txn, layout in
            try txn.put(layout.events, key: LedgerLayout.seqKey(6), value: b)
            try txn.put(layout.events, key: LedgerLayout.seqKey(7), value: a)
        }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 6)
        #expect(report.problem?.kind == .misplaced)
    }

    /// A record rewritten with a valid checksum (as someone re-encoding it would) still breaks the chain.
    @Test func aReencodedRecordBreaksTheChain() throws {
        let f = try populated()
        var event = try f.ledger.read { try $0.event(4)! }
        event.sessionId = "forged"
        let (forged, _) = StoredRecord.seal(event, after: .genesis)
        try damage(f) { txn, layout in try txn.put(layout.events, key: LedgerLayout.seqKey(4), value: forged) }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 4)
        #expect(report.problem?.kind == .chain)
    }

    /// Rewriting the whole chain from seq 2 on with a resurrected session passes the checksums
    /// and the chain, but the fold refuses it (I1).
    @Test func aForgedButWellChainedResurrectionBreaksI1() throws {
        let f = try LedgerFixture()
        try f.accept("k", .created("S1", expectedVersion: 0))
        try f.accept("k", .errored("S1"))
        try f.accept("k", .created("S2", expectedVersion: 2))
        var third = try f.ledger.read { try $0.event(3)! }
        third.sessionId = "S1"
        let previous = try f.ledger.read { snapshot in try snapshot.record(2)!.withUnsafeBytes { try StoredRecord.parts($0).storedHash } }
        let (forged, hash) = StoredRecord.seal(third, after: previous)
        try damage(f) { txn, layout in
            try txn.put(layout.events, key: LedgerLayout.seqKey(3), value: forged)
            try txn.put(layout.meta, key: LedgerLayout.headKey, value: LedgerHead(seq: 3, hash: hash, time: third.time).encoded())
        }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.seq == 3)
        #expect(report.problem?.kind == .invariant)
        #expect(report.problem?.message.contains("I1") == true)
    }

    @Test func tamperedHeadStateIsFound() throws {
        let f = try populated()
        try f.ledger.writeBackHeadState()
        var conversation = try f.conversation("k2")
        conversation.sessionId = "s2"  // the dead one
        let state = try #require(f.ledger.state.environment)
        let layout = try #require(f.ledger.state.layout)
        try state.write { txn in
            try txn.put(layout.conversations, key: StateLayout.stateKey("k2"), value: StateCodec.encode(conversation))
        }
        let report = try LedgerVerifier.verify(f.ledger)
        #expect(report.problem?.kind == .headState)
        #expect(report.problem?.message.contains("k2") == true)
    }
}
