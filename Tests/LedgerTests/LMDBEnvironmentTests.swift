import CLMDB
import Foundation
import Testing
@testable import Ledger

@Suite struct LMDBEnvironmentTests {
    @Test func aPathIsOpenedOncePerProcessAndShared() throws {
        let dir = TemporaryDirectory("env")
        let first = try LMDBEnvironment.open(directory: dir.path)
        let second = try LMDBEnvironment.open(directory: dir.path + "/.")
        #expect(first === second)
        let readOnly = try LMDBEnvironment.open(directory: dir.path, options: { var o = LMDBOptions(); o.readOnly = true; return o }())
        #expect(readOnly === first, "a read-only opener shares the writable handle")
    }

    @Test func aReadWriteOpenAfterAReadOnlyOneIsRefused() throws {
        let dir = TemporaryDirectory("env")
        do { _ = try LMDBEnvironment.open(directory: dir.path) }  // create the files, then close
        var options = LMDBOptions()
        options.readOnly = true
        let readOnly = try LMDBEnvironment.open(directory: dir.path, options: options)
        #expect(throws: LMDBError.self) { try LMDBEnvironment.open(directory: dir.path) }
        #expect(throws: LMDBError.self) { try readOnly.write { _ in } }
    }

    @Test func aThrowingWriteIsAbortedAndErrorsNameTheOperation() throws {
        let dir = TemporaryDirectory("env")
        let env = try LMDBEnvironment.open(directory: dir.path)
        let db = try env.database(named: "d")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, key: [1], value: [2])
                throw Boom()
            }
        }
        let value = try env.read { txn in try txn.get(db, key: [1]).map { Array($0) } }
        #expect(value == nil)
        let error = #expect(throws: LMDBError.self) {
            try env.write { txn in try txn.put(db, key: [UInt8](repeating: 7, count: 600), value: [1]) }
        }
        #expect(error?.code == MDB_BAD_VALSIZE)
        #expect(error?.operation == "mdb_put d")
    }

    @Test func openingAFileThatIsNotAnEnvironmentFails() throws {
        let dir = TemporaryDirectory("env")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: dir.join("data.mdb")))
        let error = #expect(throws: LMDBError.self) { try LMDBEnvironment.open(directory: dir.path) }
        #expect(error?.code == MDB_INVALID)
        // The failed handle was closed, so a retry after repair works.
        try FileManager.default.removeItem(atPath: dir.join("data.mdb"))
        _ = try LMDBEnvironment.open(directory: dir.path)
    }

    @Test func aTinyMapGrowsWhileWriting() throws {
        let dir = TemporaryDirectory("env")
        var options = LMDBOptions()
        options.initialMapSize = 64 * 1024
        let env = try LMDBEnvironment.open(directory: dir.path, options: options)
        let db = try env.database(named: "d")
        let start = env.mapSize
        for batch in 0..<40 {
            try env.write { txn in
                for i in 0..<100 {
                    try txn.put(db, key: Array("\(batch)-\(i)".utf8), value: [UInt8](repeating: 1, count: 200))
                }
            }
        }
        #expect(env.mapSize > start)
        #expect(try env.read { try $0.count(db) } == 4000)
    }
}

@Suite struct MapGrowthTests {
    @Test func aLedgerOpenedWithATinyMapKeepsAppendingPastIt() throws {
        let f = try LedgerFixture(mapSize: 64 * 1024)
        let start = f.ledger.environment.mapSize
        for i in 0..<3_000 {
            try f.accept("key-\(i % 500)", .created("session-\(i)", expectedVersion: UInt64(i / 500)))
        }
        #expect(f.ledger.environment.mapSize > start)
        #expect(try f.ledger.head().seq == 3_000)
        #expect(try LedgerVerifier.verify(f.ledger).isValid)
    }

    @Test func aReaderInTheSameProcessSeesTheGrownMap() throws {
        let f = try LedgerFixture(mapSize: 64 * 1024)
        let reader = try Ledger.open(directory: f.ledger.directory, options: LedgerOptions(readOnly: true))
        for i in 0..<2_000 { try f.accept("k\(i)", .created("s\(i)", expectedVersion: 0)) }
        #expect(try reader.read { try $0.conversation("k1999").sessionId } == "s1999")
    }

    /// Pages read through the map stay mapped (and resident) until released; after
    /// `releaseMappedPages()` this process maps none of the file, and the data reads the same.
    @Test func releasedPagesLeaveTheResidentSetAndReadTheSame() throws {
        let dir = TemporaryDirectory("env")
        let env = try LMDBEnvironment.open(directory: dir.path)
        let db = try env.database(named: "d")
        let value = [UInt8](repeating: 0xAB, count: 1_500)
        try env.write { txn in
            for i in 0..<4_000 { try txn.put(db, key: Array("key-\(i)".utf8), value: value) }
        }
        func readAll() throws -> Int {
            try env.read { txn in
                (0..<4_000).filter { (try? txn.get(db, key: Array("key-\($0)".utf8)).map { $0.elementsEqual(value) }) == true }.count
            }
        }
        let file = try #require(realpath(dir.path + "/data.mdb", nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) })
        #expect(try readAll() == 4_000)
        let before = residentKilobytes(of: file)
        #expect(before > 1_000, "6 MB read through the map: \(before) kB resident")
        env.releaseMappedPages()
        #expect(residentKilobytes(of: file) == 0)
        #expect(try readAll() == 4_000)
    }

    /// The resident kilobytes of this process's mappings of `file`, from /proc/self/smaps.
    func residentKilobytes(of file: String) -> Int {
        // Read to the end: /proc files report a size of 0.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps"), let data = try? handle.readToEnd() else { return -1 }
        let smaps = String(decoding: data, as: UTF8.self)
        var total = 0
        var inFile = false
        for line in smaps.split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains("-") {
                inFile = line.hasSuffix(" " + file)
            } else if inFile, line.hasPrefix("Rss:") {
                total += Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            }
        }
        return total
    }
}
