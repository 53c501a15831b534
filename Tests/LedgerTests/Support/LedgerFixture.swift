@testable import Ledger

/// A ledger in a fresh temp dir, with helpers that append one command and return its outcome.
final class LedgerFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    private(set) var ledger: Ledger!
    var clock: Int64 = 1_700_000_000_000_000

    let writeBack: WriteBackPolicy

    init(mapSize: Int = 1 << 26, writeBack: WriteBackPolicy = WriteBackPolicy()) throws {
        directory = TemporaryDirectory("ledger")
        self.writeBack = writeBack
        ledger = try Ledger.open(directory: directory.join("log"), options: LedgerOptions(initialMapSize: mapSize, writeBack: writeBack))
    }

    /// Closes the ledger (drops the only reference, which closes the LMDB environment) and opens
    /// it again, as after a crash: head state held in memory is not written back first.
    func reopen() throws {
        ledger = nil  // after close(), a no-op
        ledger = try Ledger.open(directory: directory.join("log"), options: LedgerOptions(writeBack: writeBack))
    }

    /// Writes back what the ledger holds in memory (waiting for any write-back in flight) and
    /// closes it; ``reopen()`` opens it again.
    func close() throws {
        try ledger.writeBackHeadState()
        ledger = nil
    }

    @discardableResult
    func run(_ command: Command, actor: ActorIdentity? = nil) throws -> (CommandOutcome, [CommittedEvent]) {
        clock += 1_000
        return try ledger.append(command, actor: actor, now: clock)
    }

    @discardableResult
    func run(_ key: String, _ request: TransitionRequest) throws -> (CommandOutcome, [CommittedEvent]) {
        try run(.transition(key: key, request))
    }

    /// Runs a transition that must be accepted; returns the conversation after it.
    @discardableResult
    func accept(_ key: String, _ request: TransitionRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> ConversationState {
        let (outcome, _) = try run(key, request)
        guard case .accepted(_, let conversation?) = outcome else {
            Issue.record("expected \(request.kind) on \(key) to be accepted, got \(outcome)", sourceLocation: sourceLocation)
            throw FixtureFailure()
        }
        return conversation
    }

    /// Runs a transition that must be rejected; returns the rejection and the current state it
    /// carried (nil for malformed requests, refused before any state is read).
    @discardableResult
    func reject(_ key: String, _ request: TransitionRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> (Rejection, ConversationState?) {
        let (outcome, events) = try run(key, request)
        guard case .rejected(let rejection, let conversation) = outcome else {
            Issue.record("expected \(request.kind) on \(key) to be rejected, got \(outcome)", sourceLocation: sourceLocation)
            throw FixtureFailure()
        }
        #expect(events.isEmpty, "a rejected command appends nothing", sourceLocation: sourceLocation)
        #expect((conversation == nil) == (rejection.code == .invalidRequest),
                "state rejections carry the current state, malformed requests none", sourceLocation: sourceLocation)
        return (rejection, conversation)
    }

    func conversation(_ key: String) throws -> ConversationState {
        try ledger.read { try $0.conversation(key) }
    }

    func session(_ id: String) throws -> SessionRecord? {
        try ledger.read { try $0.session(id) }
    }
}

struct FixtureFailure: Error {}

import Testing
