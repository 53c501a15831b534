import Testing
@testable import Ledger

/// The composite keys of the conversations and live databases.
@Suite struct LayoutTests {
    /// "k" is a prefix of "k1" and "kk": their index entries and states must never mix.
    @Test func keysThatArePrefixesOfEachOtherKeepTheirOwnEvents() throws {
        let f = try LedgerFixture()
        var expected: [String: [UInt64]] = [:]
        let keys = ["k", "k1", "kk", "k\u{7E}", "ké"]
        for round in 0..<60 {
            for key in keys {
                let (outcome, events) = try f.run(key, .created("\(key)-\(round)", expectedVersion: UInt64(round)))
                guard case .accepted = outcome else { Issue.record("\(outcome)"); return }
                expected[key, default: []].append(events[0].event.seq)
            }
        }
        struct Seen { var seqs: [String: [UInt64]] = [:]; var keysOfEvents: [String: Set<String?>] = [:]; var versions: [String: UInt64] = [:]
                      var states: [String] = []; var tail: [UInt64] = [] }
        let seen = try f.ledger.read { snapshot -> Seen in
            var seen = Seen()
            for key in keys {
                seen.seqs[key] = try snapshot.seqs(forKey: key)
                seen.keysOfEvents[key] = Set(try snapshot.history(key: key).map(\.event.key))
                seen.versions[key] = try snapshot.conversation(key).version
            }
            try snapshot.forEachConversation { seen.states.append($0.key) }
            seen.tail = try snapshot.seqs(forKey: "k", from: expected["k"]![30])
            return seen
        }
        for key in keys {
            #expect(seen.seqs[key] == expected[key])
            #expect(seen.keysOfEvents[key] == [key])
            #expect(seen.versions[key] == 60)
        }
        // seqs whose low byte is 0xFF are index entries, never states
        #expect(expected.values.flatMap { $0 }.contains { $0 & 0xFF == 0xFF })
        #expect(Set(seen.states) == Set(keys))
        #expect(seen.states.count == keys.count)
        #expect(seen.tail == Array(expected["k"]![30...]))
    }

    @Test func theLiveIndexFindsOwnersByTheirHashedPrefix() throws {
        let f = try LedgerFixture()
        try f.accept("a", .created("s1", expectedVersion: 0, owner: "owner-x"))
        try f.accept("b", .created("s2", expectedVersion: 0, owner: "owner-y"))
        try f.accept("c", .created("s3", expectedVersion: 0))
        try f.accept("d", .created("s4", expectedVersion: 0, owner: String(repeating: "o", count: 256)))
        try f.accept("e" + String(repeating: "k", count: 255), .created("s5", expectedVersion: 0, owner: String(repeating: "o", count: 256)))
        let long = String(repeating: "o", count: 256)
        let (x, y, nobody, longOwner, all) = try f.ledger.read { snapshot in
            (try snapshot.liveKeys(owner: "owner-x"), try snapshot.liveKeys(owner: "owner-y"), try snapshot.liveKeys(owner: "nobody"),
             try snapshot.liveKeys(owner: long), try snapshot.liveKeys(owner: nil))
        }
        #expect(x == ["a"])
        #expect(y == ["b"])
        #expect(nobody.isEmpty)
        #expect(longOwner.count == 2, "256-byte owner and key fit")
        #expect(Set(all).count == 5)
        try f.accept("a", .cleared(reason: "done"))
        #expect(try f.ledger.read { try $0.liveKeys(owner: "owner-x") } == [])
    }
}
