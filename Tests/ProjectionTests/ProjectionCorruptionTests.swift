import Foundation
import GRDB
import Testing
@testable import Ledger
@testable import Projections

/// Each kind of damage is detected, the file is moved aside, the projection is rebuilt from the
/// log, one clear log line says what happened, and the answers equal a clean projection's.
@Suite struct ProjectionCorruptionTests {
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case deleted, truncated, randomBytesOverPages, lastPageScrambled, headerDestroyed, rowTampered, checkpointAhead, checkpointHashMismatch
        var testDescription: String { rawValue }

        /// The kind of damage the projection should report, and whether a quick check finds it.
        var expected: (kind: ProjectionDamage.Kind, quick: Bool) {
            switch self {
            case .deleted: (.missing, true)
            case .truncated, .randomBytesOverPages, .lastPageScrambled, .headerDestroyed: (.damaged, true)
            case .rowTampered: (.mismatch, false)
            case .checkpointAhead: (.ahead, true)
            case .checkpointHashMismatch: (.diverged, true)
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func damageIsDetectedSetAsideAndRebuilt(damage: Damage) throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 40)
        let clean = try ProjectionAnswers(f.projection)
        let damagedGeneration = f.projection.generation
        f.closeProjection()
        try inflict(damage, on: f)

        let check: ProjectionCheckLevel = damage.expected.quick ? .quick : .full
        try f.reopenProjection(check: check)

        let errors = f.logs.lines(atLeast: .error)
        #expect(errors.count == 1, "one clear line: \(errors)")
        #expect(errors.first?.hasPrefix("projection \(damage.expected.kind.rawValue):") == true, "\(errors)")
        #expect(errors.first?.contains("rebuilt") == true)
        if damage != .deleted {
            #expect(f.forensics.count == 1, "the damaged file is kept for forensics")
            #expect(f.forensics.first?.contains(damage.expected.kind.rawValue) == true)
        }
        #expect(f.projection.generation > damagedGeneration)
        #expect(try ProjectionAnswers(f.projection) == clean)
        #expect(try f.projection.compareWithLog() == nil)
        // and the repaired projection keeps working
        try f.append([.transition(key: "k0", .cleared(reason: "after repair"))])
        #expect(try f.projection.read { try $0.session("k0").sessionId } == nil)
    }

    /// The fast check (ledgerd's start) reads only the schema and the checkpoint, so damage in a
    /// page it does not read is left to the quick check, which ledgerd runs in the background
    /// once it serves; that check finds it and the repair restores the answers.
    @Test func aFastOpenLeavesPageDamageToTheQuickCheck() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 40)
        let clean = try ProjectionAnswers(f.projection)
        let generation = f.projection.generation
        f.closeProjection()
        try inflict(.lastPageScrambled, on: f)
        try f.reopenProjection(check: .fast)
        #expect(f.projection.generation == generation, "the fast check does not read the damaged page")
        let damage = try #require(f.projection.check(.quick))
        #expect(damage.kind == .damaged)
        try f.projection.repair(damage)
        #expect(try ProjectionAnswers(f.projection) == clean)
    }

    /// A row edited behind ledgerd's back is caught on use too, not only by a full check, and
    /// ``Projection/repair(_:)`` fixes it while the projection stays open.
    @Test func aTamperedRowIsCaughtOnUseAndRepairedInPlace() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 10)
        let clean = try ProjectionAnswers(f.projection)
        try tamperRow(f.liveFile)
        let caught = #expect(throws: ProjectionError.self) { try f.projection.read { try $0.session("k2") } }
        #expect(caught?.code == .damaged)
        let damage = try #require(f.projection.check(.full))
        #expect(damage.kind == .mismatch)
        #expect(damage.reason.contains("k2"))
        try f.projection.repair(damage)
        #expect(f.forensics.count == 1)
        #expect(try ProjectionAnswers(f.projection) == clean)
        #expect(f.logs.lines(atLeast: .error).count == 1)
    }

    /// The `state` column is what listings filter on; a row whose state disagrees with its
    /// session (here: a live conversation marked `none`, so it drops out of `state=active`) is
    /// damage like any other edit.
    @Test func aTamperedStateColumnIsCaught() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 10)
        let clean = try ProjectionAnswers(f.projection)
        let active = try #require(f.projection.read { q in try (0..<10).map { try q.session("k\($0)") } }.first { $0.isActive })
        try execute(f.liveFile, "UPDATE sessions SET state = 'none' WHERE key = '\(active.key)'")
        let caught = #expect(throws: ProjectionError.self) { try f.projection.read { try $0.session(active.key) } }
        #expect(caught?.code == .damaged)
        let damage = try #require(f.projection.check(.full))
        #expect(damage.kind == .mismatch)
        #expect(damage.reason.contains(active.key))
        try f.projection.repair(damage)
        #expect(try ProjectionAnswers(f.projection) == clean)
    }

    @Test func aHealthyProjectionIsNeitherMovedNorRebuilt() throws {
        let f = try DataDirectoryFixture()
        try f.populate(keys: 5)
        let generation = f.projection.generation
        f.closeProjection()
        try f.reopenProjection(check: .full)
        #expect(f.projection.generation == generation)
        #expect(f.forensics.isEmpty)
        #expect(f.logs.lines(atLeast: .error).isEmpty)
    }

    // MARK: Inflicting damage on a closed projection file

    func inflict(_ damage: Damage, on f: DataDirectoryFixture) throws {
        let path = f.liveFile
        switch damage {
        case .deleted:
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        case .truncated:
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect(truncate(path, off_t(size / 2)) == 0)
        case .randomBytesOverPages:
            try overwrite(path) { bytes in
                var generator = SystemRandomNumberGenerator()
                var offset = 4096
                while offset + 1024 < bytes.count {
                    for i in offset + 100 ..< offset + 1024 { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
                    offset += 4096
                }
            }
        case .lastPageScrambled:
            try overwrite(path) { bytes in
                var generator = SystemRandomNumberGenerator()
                for i in (bytes.count - 4096 + 8)..<bytes.count { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
            }
        case .headerDestroyed:
            try overwrite(path) { bytes in for i in 0..<100 { bytes[i] = 0xA5 } }
        case .rowTampered:
            try tamperRow(path)
        case .checkpointAhead:
            try execute(path, "UPDATE checkpoint SET seq = seq + 5")
        case .checkpointHashMismatch:
            try execute(path, "UPDATE checkpoint SET hash = randomblob(32)")
        }
    }

    /// What a hand-written SQL fix would do: bring back a session that was cleared.
    func tamperRow(_ path: String) throws {
        try execute(path, "UPDATE sessions SET session_id = 's2', state = 'active' WHERE key = 'k2'")
    }

    func execute(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: sql)
            #expect(db.changesCount == 1)
        }
        try queue.close()
    }

    func overwrite(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 8192)
        change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
