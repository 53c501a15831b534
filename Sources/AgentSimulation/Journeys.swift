import Foundation
import Ledger
import LedgerClient

/// How a journey keeps its sessions.
public enum StoreKind: Sendable, CustomStringConvertible {
    /// A SQLite row per conversation at this path, with the flaws of the incident's code.
    case naive(path: String)
    /// ledgerd on this socket.
    case ledger(socket: String)

    public var description: String {
        switch self {
        case .naive: "naive row"
        case .ledger: "ledgerd"
        }
    }
}

/// What a journey came to, as a user of the runtime would see it.
public struct JourneyReport: Sendable {
    public var incident: String
    public var title: String
    public var store: String
    public var key: String
    /// Turns run after the incident's trigger, in order.
    public var turns: [TurnResult] = []
    public var sdkCalls = 0
    /// What the journey observed beyond the turns ("reset lost", "context lost", ...).
    public var notes: [String] = []
    /// Whether the journey reached its good end state (continuity, the reset kept, a winner...).
    public var endStateGood = true

    public var failedTurns: Int { turns.filter { !$0.succeeded }.count }
    public var succeededTurns: Int { turns.filter(\.succeeded).count }
    /// SDK calls that did nothing for the user: the failed turns.
    public var wastedCalls: Int { failedTurns }
    /// The last three turns all failed: the conversation is stuck.
    public var endsInLoop: Bool { turns.count >= 3 && turns.suffix(3).allSatisfy { !$0.succeeded } }
}

/// The incidents of the brief (section 1) as journeys of a simulated runtime, each runnable
/// against the naive row store (showing the failure) and against ledgerd (showing recovery).
public enum Journeys {
    static let turnsAfterIncident = 5

    /// `ledger` and `naive` bindings for a journey, with the naive flaws the incident's code had.
    static func binding(_ store: StoreKind, flaws: NaiveRowBinding.Flaws, invalidate: InvalidationPolicy) throws -> any SessionBinding {
        switch store {
        case .naive(let path): try NaiveRowBinding(path: path, flaws: flaws)
        case .ledger(let socket): LedgerBinding(socketPath: socket, invalidate: invalidate)
        }
    }

    static func unique(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(6).lowercased())" }

    /// A: the transcript behind S1 is gone; resuming it fails with a result carrying a new ID
    /// S2. The naive error branch persists S2, which fails the same way: forever. With ledgerd
    /// the error kills S1 and S2 and the next turn starts fresh.
    public static func errorResultRepersisted(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("archon:thread")
        let binding = try binding(store, flaws: [.persistErrorResultId], invalidate: .mismatched)
        var report = JourneyReport(incident: "A", title: "error result re-persisted", store: binding.name, key: key)
        let owner = unique("archon")
        let before = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-a")), binding: binding)
        try await before.start()
        _ = await before.turn(key, message: "hello")
        // The transcript store loses its files (same volume, same environment: nothing says so).
        let after = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-a")), binding: binding)
        try await after.start()
        for turn in 0..<turnsAfterIncident { report.turns.append(await after.turn(key, message: "message \(turn)")) }
        report.sdkCalls = after.sdk.callCount
        report.endStateGood = report.turns.last?.succeeded == true
        return report
    }

    /// B: the container is recreated; the row (on a persistent volume) still says S1 but the
    /// transcript was local. The naive fallback keeps resuming S1: stuck until a manual DELETE.
    /// ledgerd: the owner's boot invalidates S1 (policy all), the next turn starts fresh.
    public static func staleResumeAfterRecreate(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("cli:cli:local")
        let binding = try binding(store, flaws: [.fallbackKeepsStaleId], invalidate: .all)
        var report = JourneyReport(incident: "B", title: "stale resume after container recreate", store: binding.name, key: key)
        let owner = unique("phantom")
        let first = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "container-1")), binding: binding)
        try await first.start()
        _ = await first.turn(key, message: "hello")
        let recreated = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "container-2")), binding: binding)
        try await recreated.start()
        for turn in 0..<turnsAfterIncident { report.turns.append(await recreated.turn(key, message: "message \(turn)")) }
        report.sdkCalls = recreated.sdk.callCount
        report.endStateGood = report.turns.last?.succeeded == true
        return report
    }

    /// C: resuming a lost S1 fails with a result echoing S1. The naive handler clears the
    /// binding, then saves the echoed S1 again. ledgerd: S1 is dead for ever; even the flawed
    /// save of the echoed ID is refused with dead_session.
    public static func deadIdEchoedBack(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("web:user")
        let binding = try binding(store, flaws: [.clearThenSaveEcho], invalidate: .mismatched)
        var report = JourneyReport(incident: "C", title: "dead ID echoed back and saved again", store: binding.name, key: key)
        let owner = unique("web")
        let before = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-c"), onMissingTranscript: .echoDeadId), binding: binding)
        try await before.start()
        let first = await before.turn(key, message: "hello")
        let after = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-c"), onMissingTranscript: .echoDeadId), binding: binding)
        try await after.start()
        report.turns.append(await after.turn(key, message: "message 0"))
        if let ledger = binding as? LedgerBinding, let echoed = first.sessionId {
            // The flawed "save the ID from the result" step, attempted against ledgerd.
            let state = try await ledger.client.session(key)
            let outcome = try await ledger.client.transition(key, .created(echoed, expectedVersion: state.version))
            report.notes.append("saving the echoed \(echoed) again: \(outcome.rejectionCode?.rawValue ?? "accepted")")
            if outcome.isAccepted { report.endStateGood = false }
        }
        for turn in 1..<turnsAfterIncident { report.turns.append(await after.turn(key, message: "message \(turn)")) }
        report.sdkCalls = after.sdk.callCount
        report.endStateGood = report.endStateGood && report.turns.last?.succeeded == true
        return report
    }

    /// D: a turn is in flight on S1 when the user resets the conversation and starts over (S2).
    /// The old turn then finishes and writes its result. Naive: its write replaces S2, the reset
    /// is lost. ledgerd: the late write is fenced out (stale_version) and a late error report
    /// changes nothing; S2 stays current.
    public static func lateWriteRacingAClear(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("slack:C9:t1")
        let binding = try binding(store, flaws: [], invalidate: .mismatched)
        var report = JourneyReport(incident: "D", title: "late write racing a clear", store: binding.name, key: key)
        let runtime = AgentRuntime(owner: unique("slackbot"), sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-d"), forksOnResume: true),
                                   binding: binding)
        try await runtime.start()
        _ = await runtime.turn(key, message: "hello")
        let gate = Gate()
        let oldTurn = Task { await runtime.turn(key, message: "slow question", gate: gate) }
        try await Task.sleep(for: .milliseconds(100))  // the old turn has begun and is in the SDK
        try await binding.reset(key)
        let fresh = await runtime.turn(key, message: "start over")
        report.turns.append(fresh)
        gate.open()
        report.turns.append(await oldTurn.value)
        let current = try await binding.current(key)
        report.endStateGood = current == fresh.sessionId
        report.notes.append(report.endStateGood ? "the reset holds: \(current ?? "none") is current"
                                                : "the reset is lost: the old turn's \(current ?? "none") replaced \(fresh.sessionId ?? "none")")
        for turn in 0..<2 { report.turns.append(await runtime.turn(key, message: "after \(turn)")) }
        report.sdkCalls = runtime.sdk.callCount
        return report
    }

    /// E: two turns of one conversation run at once; both see no session and both create one.
    /// Naive: the last writer wins and the other turn's context is silently orphaned. ledgerd:
    /// exactly one wins; the other is told (409 stale_version) and the next turn adopts the winner.
    public static func twoConcurrentTurns(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("discord:g1")
        let binding = try binding(store, flaws: [], invalidate: .mismatched)
        var report = JourneyReport(incident: "E", title: "two concurrent turns", store: binding.name, key: key)
        let runtime = AgentRuntime(owner: unique("discordbot"), sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-e")), binding: binding)
        try await runtime.start()
        let gate = Gate()
        let first = Task { await runtime.turn(key, message: "question one", gate: gate) }
        let second = Task { await runtime.turn(key, message: "question two", gate: gate) }
        try await Task.sleep(for: .milliseconds(100))  // both have read "no session"
        gate.open()
        let results = [await first.value, await second.value]
        report.turns += results
        let current = try await binding.current(key)
        let losers = results.compactMap(\.sessionId).filter { $0 != current }
        let told = (binding as? LedgerBinding)?.adopted.filter { $0 == .staleVersion }.count ?? 0
        let silentlyOrphaned = max(0, losers.count - told)
        report.notes.append("winner \(current ?? "none"); sessions orphaned without notice: \(silentlyOrphaned)")
        report.endStateGood = silentlyOrphaned == 0
        report.turns.append(await runtime.turn(key, message: "follow-up"))
        report.sdkCalls = runtime.sdk.callCount
        return report
    }

    /// F: the process dies mid-turn, after the SDK created a session and before it was recorded,
    /// and the container comes back without its transcript volume. Naive: the row still points at
    /// the old session, whose transcript is gone, and its error branch loops. ledgerd: the boot
    /// (mismatched) invalidates what the lost volume held; the unrecorded session was never bound.
    public static func restartMidTurn(_ store: StoreKind) async throws -> JourneyReport {
        let key = unique("api:conv")
        let binding = try binding(store, flaws: [.persistErrorResultId], invalidate: .mismatched)
        var report = JourneyReport(incident: "F", title: "restart mid-turn", store: binding.name, key: key)
        let owner = unique("worker")
        let before = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-f1"), forksOnResume: true), binding: binding)
        try await before.start()
        _ = await before.turn(key, message: "hello")
        let died = await before.turn(key, message: "interrupted", diesAfterSDK: true)
        report.notes.append("died after the SDK made \(died.sessionId ?? "nothing"), before recording it")
        let after = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: TranscriptStore(volume: "vol-f2")), binding: binding)
        try await after.start()
        for turn in 0..<turnsAfterIncident { report.turns.append(await after.turn(key, message: "message \(turn)")) }
        report.sdkCalls = after.sdk.callCount
        report.endStateGood = report.turns.last?.succeeded == true
        return report
    }

    /// G: the runtime restarts and its transcript volume survives. A blanket wipe on boot loses
    /// every conversation's context for nothing; ledgerd's mismatched policy keeps the sessions
    /// whose volume matches (and invalidates those of a lost volume, which `volumeSurvives: false`
    /// shows).
    public static func preciseInvalidation(_ store: StoreKind, volumeSurvives: Bool = true) async throws -> JourneyReport {
        let key = unique("chat:long-running")
        let binding = try binding(store, flaws: [.wipeOnBoot], invalidate: .mismatched)
        var report = JourneyReport(incident: "G", title: volumeSurvives ? "boot with a surviving volume" : "boot with a lost volume",
                                   store: binding.name, key: key)
        let owner = unique("assistant")
        let volume = TranscriptStore(volume: "vol-g")
        let before = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: volume), binding: binding)
        try await before.start()
        for turn in 0..<3 { _ = await before.turn(key, message: "context \(turn)") }
        let after = AgentRuntime(owner: owner, sdk: FakeAgentSDK(transcripts: volumeSurvives ? volume : TranscriptStore(volume: "vol-g-new")),
                                 binding: binding)
        try await after.start()
        let next = await after.turn(key, message: "do you remember?")
        report.turns.append(next)
        let context = after.sdk.context(of: next.sessionId)
        report.notes.append("the next turn resumed \(next.resumed ? "its session" : "nothing"): \(context) messages of context")
        report.endStateGood = volumeSurvives ? (next.resumed && context == 4) : (next.succeeded && !next.resumed)
        for turn in 0..<2 { report.turns.append(await after.turn(key, message: "more \(turn)")) }
        report.sdkCalls = after.sdk.callCount
        return report
    }

    /// Every journey, against one store.
    public static func all(_ store: StoreKind) async throws -> [JourneyReport] {
        [try await errorResultRepersisted(store), try await staleResumeAfterRecreate(store), try await deadIdEchoedBack(store),
         try await lateWriteRacingAClear(store), try await twoConcurrentTurns(store), try await restartMidTurn(store),
         try await preciseInvalidation(store), try await preciseInvalidation(store, volumeSurvives: false)]
    }
}
