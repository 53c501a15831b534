import AgentSimulation
import Foundation
import Ledger
import LedgerAPI
import LedgerTestSupport
import Testing

/// The incidents of the brief, end to end: each journey against the naive SQLite row (the
/// failure the public reports describe) and against ledgerd through its socket (recovery: at
/// most one failed turn, no loop), with the audit trail `ledgerctl replay --key` prints.
@Suite struct IncidentJourneyTests {
    /// Runs a journey against a fresh naive row store.
    func naive(_ journey: (StoreKind) async throws -> JourneyReport) async throws -> JourneyReport {
        let directory = TemporaryDirectory("naive")
        return try await journey(.naive(path: directory.join("sessions.sqlite")))
    }

    /// Runs a journey against a real ledgerd; returns the report and the audit trail of its key.
    func ledger(_ journey: (StoreKind) async throws -> JourneyReport) async throws -> (JourneyReport, [LoggedEvent]) {
        let daemon = try Daemon()
        let report = try await journey(.ledger(socket: daemon.socketPath))
        let replay = try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), ["replay", "--data-dir", daemon.dataDirectory, "--key", report.key, "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let audit = try replay.stdout.split(separator: "\n").map { try EventJSON.read(try JSONParser.parse(String($0))) }
        let human = try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), ["replay", "--data-dir", daemon.dataDirectory, "--key", report.key])
        #expect(human.stdout.contains(report.key))
        #expect(try await Subprocess.runAwaiting(Binaries.path("ledgerctl"), ["verify", "--data-dir", daemon.dataDirectory]).status == 0)
        return (report, audit)
    }

    func types(_ audit: [LoggedEvent]) -> [EventType] { audit.map(\.event.type) }

    /// The ledger's promise for every journey: at most one failed turn, no loop, a good end.
    func expectRecovery(_ report: JourneyReport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.failedTurns <= 1, "\(report.failedTurns) failed turns: \(report.turns.map(\.error))", sourceLocation: sourceLocation)
        #expect(!report.endsInLoop, sourceLocation: sourceLocation)
        #expect(report.endStateGood, "\(report.notes)", sourceLocation: sourceLocation)
    }

    @Test func incidentA_errorResultRepersisted() async throws {
        let broken = try await naive(Journeys.errorResultRepersisted)
        #expect(broken.endsInLoop)
        #expect(broken.failedTurns == 5, "every turn resumes the ID the last error carried")

        let (fixed, audit) = try await ledger(Journeys.errorResultRepersisted)
        expectRecovery(fixed)
        #expect(fixed.failedTurns == 1)
        #expect(fixed.wastedCalls == 1)
        #expect(types(audit).prefix(4) == [.created, .resumed, .errored, .created])
        let errored = try #require(audit.first { $0.event.type == .errored })
        #expect(errored.event.reason == "error_during_execution")
        #expect(errored.event.reportedSessionId != nil && errored.event.reportedSessionId != errored.event.sessionId)
        #expect(audit.allSatisfy { $0.event.actor?.pid == getpid() }, "the runtime (this process) did every write")
    }

    @Test func incidentB_staleResumeAfterContainerRecreate() async throws {
        let broken = try await naive(Journeys.staleResumeAfterRecreate)
        #expect(broken.endsInLoop)
        #expect(broken.succeededTurns == 0, "stuck until a manual DELETE")

        let (fixed, audit) = try await ledger(Journeys.staleResumeAfterRecreate)
        expectRecovery(fixed)
        #expect(fixed.failedTurns == 0, "the boot invalidated S1 before any turn tried it")
        #expect(types(audit).prefix(3) == [.created, .invalidatedOnBoot, .created])
        #expect(audit[1].event.reason?.contains("invalidate=all") == true)
    }

    @Test func incidentC_deadIdEchoedBack() async throws {
        let broken = try await naive(Journeys.deadIdEchoedBack)
        #expect(broken.endsInLoop)

        let (fixed, audit) = try await ledger(Journeys.deadIdEchoedBack)
        expectRecovery(fixed)
        #expect(fixed.notes.contains { $0.hasSuffix("dead_session") }, "\(fixed.notes)")
        let errored = try #require(audit.first { $0.event.type == .errored })
        #expect(errored.event.reportedSessionId == errored.event.sessionId, "the error echoed the dead ID")
        #expect(!audit.dropFirst().contains { $0.event.type == .created && $0.event.sessionId == errored.event.sessionId })
    }

    @Test func incidentD_lateWriteRacingAClear() async throws {
        let broken = try await naive(Journeys.lateWriteRacingAClear)
        #expect(!broken.endStateGood, "the old turn's write replaced the session the user started over with")

        let (fixed, audit) = try await ledger(Journeys.lateWriteRacingAClear)
        expectRecovery(fixed)
        #expect(types(audit).contains(.cleared))
        #expect(audit.first { $0.event.type == .cleared }?.event.reason == "user reset")
        let forks = fixed.turns.compactMap(\.sessionId)
        #expect(!audit.contains { $0.event.type == .created && $0.event.sessionId == forks[1] }, "the late write never made it into the log")
    }

    @Test func incidentE_twoConcurrentTurns() async throws {
        let broken = try await naive(Journeys.twoConcurrentTurns)
        #expect(!broken.endStateGood)
        #expect(broken.notes.contains { $0.hasSuffix("without notice: 1") })

        let (fixed, audit) = try await ledger(Journeys.twoConcurrentTurns)
        expectRecovery(fixed)
        #expect(fixed.notes.contains { $0.hasSuffix("without notice: 0") })
        #expect(types(audit).filter { $0 == .created }.count == 1, "exactly one turn won the race")
        #expect(types(audit).last == .resumed, "the follow-up turn resumed the winner")
    }

    @Test func incidentF_restartMidTurn() async throws {
        let broken = try await naive(Journeys.restartMidTurn)
        #expect(broken.endsInLoop)

        let (fixed, audit) = try await ledger(Journeys.restartMidTurn)
        expectRecovery(fixed)
        #expect(fixed.failedTurns == 0)
        let invalidated = try #require(audit.first { $0.event.type == .invalidatedOnBoot })
        #expect(invalidated.event.reason?.contains("volume") == true)
        let died = fixed.notes.first { $0.hasPrefix("died after") } ?? ""
        #expect(!audit.contains { $0.event.sessionId.map { died.contains($0) } ?? false && $0.event.type == .created && $0.event.seq > audit[0].event.seq },
                "the session the dead process never recorded was never bound")
    }

    @Test func incidentG_survivingVolumeKeepsContinuityLostVolumeInvalidates() async throws {
        let broken = try await naive { try await Journeys.preciseInvalidation($0, volumeSurvives: true) }
        #expect(!broken.endStateGood, "a blanket wipe lost the context that survived on the volume")

        let (kept, keptAudit) = try await ledger { try await Journeys.preciseInvalidation($0, volumeSurvives: true) }
        expectRecovery(kept)
        #expect(kept.failedTurns == 0)
        #expect(!types(keptAudit).contains(.invalidatedOnBoot))

        let (lost, lostAudit) = try await ledger { try await Journeys.preciseInvalidation($0, volumeSurvives: false) }
        expectRecovery(lost)
        #expect(lost.failedTurns == 0)
        #expect(types(lostAudit).contains(.invalidatedOnBoot))
    }
}
