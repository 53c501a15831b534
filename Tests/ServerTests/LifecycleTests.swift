import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Ledger
import LedgerAPI
import LedgerClient
import LedgerTestSupport
import Synchronization
import Testing

/// A write ledgerd acknowledged.
struct Acknowledged: Sendable {
    var key: String
    var version: UInt64
    var session: String
    var seq: UInt64
}

@Suite struct LifecycleTests {
    /// The commit thread, which every write waits on, keeps the default priority; the
    /// projection and the WAL checkpoint run at nice 10 so they cannot preempt it. Each thread
    /// carries its name, for perf and top -H.
    @Test func backgroundStagesRunAtALowerPriorityThanTheCommitThread() async throws {
        let daemon = try Daemon()
        _ = try await daemon.client().transition("k", .created("S1", expectedVersion: 0))
        func niceValuesByThreadName() throws -> [String: Int] {
            var niceByName: [String: Int] = [:]
            for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/task") {
                let base = "/proc/\(daemon.pid)/task/\(task)"
                let name = (try String(contentsOfFile: base + "/comm", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
                // Fields after the command name, which is in parentheses: the nice value is field 19.
                let stat = try String(contentsOfFile: base + "/stat", encoding: .utf8)
                let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
                niceByName[name] = Int(fields[16])
            }
            return niceByName
        }
        // The threads name themselves when they start: give a slow machine a moment.
        var niceByName = try niceValuesByThreadName()
        for _ in 0..<100 where niceByName["ledger-project"] == nil || niceByName["ledger-checkpt"] == nil {
            try await Task.sleep(for: .milliseconds(20))
            niceByName = try niceValuesByThreadName()
        }
        #expect(niceByName["ledger-commit"] == 0, "\(niceByName)")
        #expect(niceByName["ledger-project"] == 10, "\(niceByName)")
        #expect(niceByName["ledger-checkpt"] == 10, "\(niceByName)")
    }

    @Test func aSecondInstanceIsRefusedWhileTheFirstKeepsServing() async throws {
        let first = try Daemon()
        _ = try await first.client().transition("k", .created("s1", expectedVersion: 0))
        let second = try await Subprocess.runAwaiting(Binaries.path("ledgerd"), ["--data-dir", first.dataDirectory, "--socket", first.socketPath])
        #expect(second.status == 1)
        #expect(second.stderr.contains("another ledgerd (pid \(first.pid)) is using the data directory"))
        // Same socket, other data directory: refused too, and the live socket is not unlinked.
        let other = TemporaryDirectory("o")
        let third = try await Subprocess.runAwaiting(Binaries.path("ledgerd"), ["--data-dir", other.join("data"), "--socket", first.socketPath])
        #expect(third.status == 1)
        #expect(third.stderr.contains("the socket \(first.socketPath)"))
        #expect(FileManager.default.fileExists(atPath: first.socketPath))
        #expect(try await first.client().session("k").sessionId == "s1")
    }

    @Test func aStaleSocketLeftByAKillNineIsReplaced() async throws {
        let first = try Daemon()
        _ = try await first.client().transition("k", .created("s1", expectedVersion: 0))
        first.kill9()
        #expect(FileManager.default.fileExists(atPath: first.socketPath), "kill -9 leaves the socket file behind")
        let second = try first.restart()
        #expect(try await second.client().session("k").sessionId == "s1")
    }

    @Test func aFileThatIsNotASocketIsNeverReplaced() async throws {
        let directory = TemporaryDirectory("f")
        _ = FileManager.default.createFile(atPath: directory.join("s.sock"), contents: Data("precious".utf8))
        #expect(throws: Daemon.DaemonError.self) { try Daemon(directory: directory) }
        #expect(try String(contentsOfFile: directory.join("s.sock"), encoding: .utf8) == "precious")
    }

    /// Over the connection limit a client gets a JSON 503 and is closed at once; the daemon keeps
    /// no descriptor for it (found in review: it used to keep them open).
    @Test func connectionsOverTheLimitAreRefusedAndReleased() async throws {
        let daemon = try Daemon(arguments: ["--max-connections", "2"])
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count) ?? -1 }
        // Hold the two allowed connections, and make sure they are live (a readiness probe
        // still being closed would otherwise count against the limit for a moment).
        var held: [RawConnection] = []
        while held.count < 2 {
            let connection = RawConnection(daemon.socketPath)
            if connection.exchange("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").hasPrefix("HTTP/1.1 200") {
                held.append(connection)
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let baseline = descriptors()
        for _ in 0..<5 {
            let extra = RawConnection(daemon.socketPath)
            let answer = extra.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
            #expect(answer.contains("too_many_connections"))
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(descriptors() == baseline)
        withExtendedLifetime(held) {}
    }

    /// lmdb.h: when another process grows the map beyond ours, our next transaction gets
    /// MDB_MAP_RESIZED; the wrapper adopts the new size and goes on.
    @Test func aReaderInAnotherProcessAdoptsAMapGrownByLedgerd() async throws {
        let daemon = try Daemon(arguments: ["--map-size-mb", "1"])
        let client = daemon.client()
        _ = try await client.transition("k0", .created("s0", expectedVersion: 0))
        let reader = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true))
        let before = reader.environment.mapSize
        #expect(try reader.head().seq == 1)
        // Write well past 1 MiB from ledgerd, so it grows its map several times.
        let reason = String(repeating: "r", count: 900)
        for i in 1..<2_500 {
            _ = try await client.transition("k\(i % 50)", .created("s\(i)", expectedVersion: UInt64(i / 50), reason: reason))
        }
        let grownOnDisk = try FileManager.default.attributesOfItem(atPath: daemon.dataDirectory + "/log/data.mdb")[.size] as? Int ?? 0
        #expect(grownOnDisk > before, "the file outgrew the reader's map")
        #expect(try reader.head().seq == 2_500)
        #expect(reader.environment.mapSize > before)
        #expect(try reader.read { try $0.conversation("k49").version } == 50)
        #expect(try LedgerVerifier.verify(reader).isValid)
    }

    @Test func theSocketIsCreated0660ByDefault() async throws {
        let daemon = try Daemon()
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        let strict = try Daemon(arguments: ["--socket-mode", "0600"])
        #expect((try FileManager.default.attributesOfItem(atPath: strict.socketPath)[.posixPermissions] as? Int) == 0o600)
    }

    /// SIGTERM while 16 writers are busy: ledgerd stops accepting, answers what is in flight,
    /// and exits 0; every write it acknowledged is in the log with the version it was given.
    @Test func sigtermWithRequestsInFlightLosesNoAnsweredWrite() async throws {
        let daemon = try Daemon()
        let acknowledged = Shared<[Acknowledged]>([])
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        let client = LedgerClient(socketPath: daemon.socketPath)
                        var version: UInt64 = 0
                        for turn in 0..<10_000 {
                            let session = "w\(writer)-\(turn)"
                            guard let outcome = try? await client.transition("sig-\(writer)", .created(session, expectedVersion: version)) else { return }
                            guard case .accepted(let result) = outcome else { return }
                            version = result.version
                            acknowledged.withLock { $0.append(Acknowledged(key: "sig-\(writer)", version: version, session: session, seq: result.seq)) }
                        }
                    }
                }
            }
        }
        // SIGTERM once writes are demonstrably flowing (however loaded the machine is: in a full
        // test run, tests of other suites that block the two threads these writers' tasks run on
        // held them back for minutes on a slow hour: 187 answers in the first 120 s of one run;
        // alone this takes a fraction of a second). The wait is the precondition, not the claim.
        let deadline = ContinuousClock.now + .seconds(600)
        while acknowledged.value.count < 200 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let status = try daemon.terminate()
        await writers.value
        #expect(status == 0)
        #expect(daemon.log.contains("stopped cleanly"))
        let acks = acknowledged.value
        #expect(acks.count >= 200)
        let ledger = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true))
        try ledger.read { snapshot in
            for ack in acks {
                let event = try snapshot.event(ack.seq)
                #expect(event?.key == ack.key && event?.version == ack.version && event?.sessionId == ack.session, "acknowledged \(ack) missing")
            }
        }
        #expect(try LedgerVerifier.verify(ledger).isValid)
    }

    @Test func invalidateOnStartEndsEveryLiveSessionAudited() async throws {
        let first = try Daemon()
        let c = first.client()
        _ = try await c.transition("a", .created("S1", expectedVersion: 0, owner: "rt"))
        _ = try await c.transition("b", .created("S2", expectedVersion: 0))
        let second = try first.restart(arguments: ["--invalidate-on-start"])
        let c2 = second.client()
        #expect(try await c2.session("a").sessionId == nil)
        #expect(try await c2.session("b").sessionId == nil)
        let history = try await c2.history("a")
        #expect(history.last?.event.type == .invalidatedOnBoot)
        #expect(history.last?.event.reason == "ledgerd started with --invalidate-on-start")
        #expect(history.last?.event.actor?.pid == second.pid)
        #expect(second.log.contains("2 live sessions invalidated"))
    }

    @Test func onlineRebuildAndCheck() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        for i in 0..<50 { _ = try await c.transition("k\(i % 5)", .created("s\(i)", expectedVersion: UInt64(i / 5))) }
        let before = try await c.sessions(limit: 100).sessions
        let report = try await c.rebuildProjection()
        guard case .object(let object) = report else { Issue.record("\(report)"); return }
        #expect(object["events"] == .number(JSONNumber(literal: "50")))
        #expect(try await c.sessions(limit: 100).sessions == before)
        let check = try await c.checkProjection(full: true)
        guard case .object(let result) = check else { Issue.record("\(check)"); return }
        #expect(result["ok"] == .bool(true))
    }

    /// ledgerd starts with a fast check (schema and checkpoint), so a damaged page elsewhere in
    /// the projection does not delay readiness; the quick check it runs in the background finds
    /// the damage, ledgerd rebuilds from the log, and every answer is the truth again.
    @Test func pageDamageIsFoundByTheBackgroundCheckAndRepaired() async throws {
        let first = try Daemon()
        let c = first.client()
        for i in 0..<300 { _ = try await c.transition("k\(i % 30)", .created("s\(i)", expectedVersion: UInt64(i / 30))) }
        let before = try await c.sessions(limit: 100).sessions
        try first.terminate()
        let file = try FileManager.default.destinationOfSymbolicLink(atPath: first.dataDirectory + "/projection.sqlite")
        let path = file.hasPrefix("/") ? file : first.dataDirectory + "/" + file
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size - 4096 + 8)
        try handle.write(contentsOf: (0..<4088).map { _ in UInt8.random(in: 0...255) })
        try handle.close()

        let second = try first.restart()
        #expect(try await second.startupCheckOutcome() == "repaired", "GET /v1/status tells how the check ended")
        let deadline = ContinuousClock.now + .seconds(20)
        while !second.log.contains("background check: projection damaged") || !second.log.contains("rebuilt") {
            guard ContinuousClock.now < deadline else { Issue.record("no repair: \(second.log)"); return }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await second.client().sessions(limit: 100).sessions == before)
        let forensics = try FileManager.default.contentsOfDirectory(atPath: second.dataDirectory + "/forensics")
        #expect(forensics.contains { $0.contains("damaged") })
    }

    /// Someone edits the projection behind ledgerd's back (the manual SQL fix of incident B):
    /// the current state never comes from that row (it is the ledger's head state), and the
    /// next read of the projection detects the edit; ledgerd rebuilds from the log, and that
    /// answer is the truth too.
    @Test func aTamperedProjectionIsRepairedWhileServing() async throws {
        let daemon = try Daemon()
        let c = daemon.client()
        _ = try await c.transition("k", .created("S1", expectedVersion: 0))
        _ = try await c.transition("k", .errored("S1", reason: "boom"))
        // A listing waits for the projection to cover both writes; otherwise the projector
        // could write the row after the edit below and quietly undo it.
        #expect(try await c.sessions(limit: 10).sessions.map(\.version) == [2])
        let queue = try DatabaseQueue(path: daemon.dataDirectory + "/projection.sqlite")
        try await queue.write { db in try db.execute(sql: "UPDATE sessions SET session_id = 'S1', state = 'active' WHERE key = 'k'") }
        try queue.close()
        let read = try await c.session("k")
        #expect(read.sessionId == nil, "the dead session must never be served as current")
        #expect(read.version == 2)
        #expect(!daemon.log.contains("repairing"), "the current state is not read from the projection")
        let listed = try await c.sessions(limit: 10).sessions
        #expect(listed.map(\.key) == ["k"])
        #expect(listed.first?.sessionId == nil && listed.first?.version == 2, "the listing is the truth after the repair")
        #expect(daemon.log.contains("repairing"))
        #expect(daemon.log.contains("rebuilt"))
        let forensics = try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory + "/forensics")
        #expect(forensics.contains { $0.hasSuffix(".sqlite") })
    }
}

/// A plain socket connection for tests that look below HTTP.
final class RawConnection {
    let fd: Int32

    init(_ path: String) {
        // -1 when nothing listens: every later read and write then fails, which the tests see.
        fd = UnixSocket.connect(to: path) ?? -1
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) {
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    /// Sends a request and reads one complete answer (head and content-length body).
    func exchange(_ request: String) -> String {
        send(request)
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: data, as: UTF8.self)
            if let split = text.range(of: "\r\n\r\n") {
                let head = text[..<split.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: split.upperBound) >= length { return text }
            }
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return text }
            data += buffer[..<count]
        }
    }

    /// Everything the peer sends until it closes (or 5 s pass).
    func readAll() -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            data += buffer[..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    deinit { close(fd) }
}
