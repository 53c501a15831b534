import Foundation
import Ledger
import LedgerAPI
import LedgerClient
import LedgerTestSupport
import Testing

@Suite struct MaintenanceTests {
    @Test func offlineRebuildGivesTheSameAnswersAndIsRefusedWhileLedgerdRuns() async throws {
        let daemon = try await populatedDaemon()
        let refused = try await ledgerctl("rebuild", "--data-dir", daemon.dataDirectory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("is running on"))
        let before = try await ledgerctl("sessions", "--all", "--json", "--socket", daemon.socketPath).stdout
        try daemon.terminate()
        let rebuilt = try await ledgerctl("rebuild", "--data-dir", daemon.dataDirectory)
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        #expect(rebuilt.stdout.contains("events/s"))
        #expect(try await ledgerctl("verify", "--data-dir", daemon.dataDirectory).status == 0)
        let again = try daemon.restart()
        let after = try await ledgerctl("sessions", "--all", "--json", "--socket", again.socketPath).stdout
        #expect(jsonLines(after) == jsonLines(before))
        #expect(!before.isEmpty)
    }

    @Test func onlineRebuild() async throws {
        let daemon = try await populatedDaemon()
        let result = try await ledgerctl("rebuild", "--online", "--socket", daemon.socketPath)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("online"))
        #expect(try await ledgerctl("verify", "--data-dir", daemon.dataDirectory).status == 0)
        // The report says where the index sorts ran (here a temporary directory has room).
        let json = try await ledgerctl("rebuild", "--online", "--json", "--socket", daemon.socketPath)
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.contains(#""sortedIn":"temporary files in "#), "\(json.stdout)")
    }

    /// A backup taken while writers run restores to a ledger that verifies and holds every write
    /// acknowledged before the backup began.
    @Test func backupUnderConcurrentWritesRestoresEverythingAcknowledgedBefore() async throws {
        let daemon = try Daemon()
        let acknowledged = Shared<[UInt64]>([])
        let stop = Shared(false)
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        let client = LedgerClient(socketPath: daemon.socketPath)
                        var version: UInt64 = 0
                        var turn = 0
                        while !stop.value {
                            guard let outcome = try? await client.transition("bk-\(writer)", .created("b\(writer)-\(turn)", expectedVersion: version)),
                                  case .accepted(let result) = outcome else { return }
                            version = result.version
                            acknowledged.withLock { $0.append(result.seq) }
                            turn += 1
                        }
                    }
                }
            }
        }
        while acknowledged.value.count < 300 { try await Task.sleep(for: .milliseconds(10)) }
        let beforeBackup = acknowledged.value
        let scratch = TemporaryDirectory("bk")
        let backup = try await ledgerctl("backup", scratch.join("backup"), "--data-dir", daemon.dataDirectory)
        stop.withLock { $0 = true }
        await writers.value
        #expect(backup.status == 0, "\(backup.stderr)")
        let again = try await ledgerctl("backup", scratch.join("backup"), "--data-dir", daemon.dataDirectory)
        #expect(again.status == 1, "the destination must not exist")

        let restored = try await ledgerctl("restore", scratch.join("backup"), "--data-dir", scratch.join("restored"))
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try await ledgerctl("verify", "--data-dir", scratch.join("restored")).status == 0)
        let ledger = try Ledger.open(directory: scratch.join("restored") + "/log", options: LedgerOptions(readOnly: true))
        let head = try ledger.head().seq
        #expect(beforeBackup.allSatisfy { $0 <= head }, "every write acknowledged before the backup is in it")
        let missing = try ledger.read { snapshot in try beforeBackup.filter { try snapshot.event($0) == nil } }
        #expect(missing.isEmpty, "acknowledged before the backup but not in it: \(missing.prefix(5))")
    }

    @Test func exportImportRoundTrip() async throws {
        let daemon = try await populatedDaemon()
        let scratch = TemporaryDirectory("ei")
        let export = try await ledgerctl("export", "--data-dir", daemon.dataDirectory)
        #expect(export.status == 0)
        let file = scratch.join("ledger.ndjson")
        try export.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try await ledgerctl("import", file, "--data-dir", scratch.join("replica"))
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try await ledgerctl("verify", "--data-dir", scratch.join("replica")).status == 0)
        let original = try await ledgerctl("replay", "--data-dir", daemon.dataDirectory, "--json").stdout
        let copy = try await ledgerctl("replay", "--data-dir", scratch.join("replica"), "--json").stdout
        #expect(original == copy)

        // Incremental: a replica at seq N takes an export from N + 1.
        let client = daemon.client()
        _ = try await client.transition("later", .created("L1", expectedVersion: 0))
        let head = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq
        let tail = try await ledgerctl("export", "--data-dir", daemon.dataDirectory, "--from", String(head))
        try tail.stdout.write(toFile: scratch.join("tail.ndjson"), atomically: true, encoding: .utf8)
        #expect(try await ledgerctl("import", scratch.join("tail.ndjson"), "--data-dir", scratch.join("replica")).status == 0)
        #expect(try await ledgerctl("replay", "--data-dir", scratch.join("replica"), "--key", "later", "--json").stdout.contains("L1"))
    }

    @Test(arguments: ["record byte", "event field", "missing line", "reordered lines"])
    func aTamperedImportIsRefusedAndWritesNothing(tamper: String) async throws {
        let daemon = try await populatedDaemon()
        let scratch = TemporaryDirectory("ti")
        var lines = try await ledgerctl("export", "--data-dir", daemon.dataDirectory).stdout.split(separator: "\n").map(String.init)
        switch tamper {
        case "record byte":
            var value = try JSONParser.parse(lines[5])
            guard case .object(var object) = value, case .string(let encoded)? = object["record"],
                  var bytes = Data(base64Encoded: encoded).map([UInt8].init) else { Issue.record("no record"); return }
            bytes[bytes.count / 3] ^= 0x01
            object.members = object.members.map { $0.key == "record" ? ("record", .string(Data(bytes).base64EncodedString())) : $0 }
            value = .object(object)
            var w = JSONWriter()
            w.value(value)
            lines[5] = String(decoding: w.bytes, as: UTF8.self)
        case "event field":
            lines[5] = lines[5].replacingOccurrences(of: "\"version\":", with: "\"version\":1") // claims another version
        case "missing line":
            lines.remove(at: 5)
        default:
            lines.swapAt(5, 6)
        }
        let file = scratch.join("tampered.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await ledgerctl("import", file, "--data-dir", scratch.join("target"))
        #expect(result.status == 1, "\(tamper): \(result.stdout)")
        #expect(result.stderr.contains("nothing imported"))
        #expect(!FileManager.default.fileExists(atPath: scratch.join("target")), "nothing written")
    }
}
