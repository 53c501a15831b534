import Foundation
import Ledger
import LedgerAPI
import LedgerTestSupport
import Testing

@Suite struct OnlineCommandTests {
    @Test func statusGetHistorySessionsAsTablesAndJSON() async throws {
        let daemon = try await populatedDaemon()
        let s = daemon.socketPath
        let status = try await ledgerctl("status", "--socket", s)
        #expect(status.status == 0)
        #expect(status.stdout.contains("headSeq"))
        #expect(jsonLines(try await ledgerctl("status", "--socket", s, "--json").stdout).count == 1)

        let get = try await ledgerctl("get", "conv-0", "--socket", s)
        #expect(get.status == 0)
        #expect(get.stdout.contains("s-0-3"))
        let getJSON = jsonLines(try await ledgerctl("get", "conv-0", "--socket", s, "--json").stdout)
        #expect(string(getJSON.first, "sessionId") == "s-0-3")
        let missing = try await ledgerctl("get", "never", "--socket", s)
        #expect(missing.status == 1)

        let history = jsonLines(try await ledgerctl("history", "conv-1", "--socket", s, "--json").stdout)
        #expect(history.compactMap { string($0, "type") } == ["created", "created", "created", "created", "errored"])
        #expect(try await ledgerctl("history", "conv-1", "--socket", s).stdout.contains("errored"))

        let active = jsonLines(try await ledgerctl("sessions", "--owner", "rt-a", "--state", "active", "--all", "--json", "--socket", s).stdout)
        // conv-4 is also rt-a's, but its last turn errored (see populatedDaemon)
        #expect(active.compactMap { string($0, "key") } == ["conv-0", "conv-2"])
        let table = try await ledgerctl("sessions", "--limit", "2", "--socket", s)
        #expect(table.stdout.contains("more: --after"))
    }

    /// The manual reset users asked for: it says what it did, and it is in the audit trail.
    @Test func clearSaysWhatItDidAndShowsUpInReplay() async throws {
        let daemon = try await populatedDaemon()
        let s = daemon.socketPath
        let changed = try await ledgerctl("clear", "conv-2", "--session", "s-2-0", "--reason", "wrong one", "--socket", s)
        #expect(changed.status == 1)
        #expect(changed.stderr.contains("session_changed"))
        #expect(changed.stderr.contains("--session s-2-3"))
        let cleared = try await ledgerctl("clear", "conv-2", "--session", "s-2-3", "--reason", "stuck on a dead transcript", "--socket", s)
        #expect(cleared.status == 0, "\(cleared.stderr)")
        #expect(cleared.stdout.contains("cleared session s-2-3 of 'conv-2': version 4 → 5"))
        let replay = jsonLines(try await ledgerctl("replay", "--data-dir", daemon.dataDirectory, "--key", "conv-2", "--json").stdout)
        let last = try #require(replay.last)
        #expect(string(last, "type") == "cleared")
        #expect(string(last, "sessionId") == "s-2-3")
        #expect(string(last, "reason") == "stuck on a dead transcript")
        #expect(number(member(last, "actor"), "uid") == UInt64(getuid()))
        #expect(try await ledgerctl("clear", "conv-2", "--socket", s).status == 2, "--reason is required")
    }

    @Test func bootFromTheCommandLine() async throws {
        let daemon = try await populatedDaemon()
        let result = try await ledgerctl("boot", "rt-a", "--invalidate", "mismatched", "--volume", "v2", "--socket", daemon.socketPath)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("owner rt-a booted epoch 2"))
        #expect(result.stdout.contains("2 sessions invalidated"), "conv-0 and conv-2 recorded no volume v2")
        let json = jsonLines(try await ledgerctl("boot", "rt-a", "--socket", daemon.socketPath, "--json").stdout)
        #expect(number(json.first, "epoch") == 3)
        #expect(try await ledgerctl("boot", "rt-a", "--invalidate", "most", "--socket", daemon.socketPath).status == 2)
    }

    @Test func tailShowsTheLatestAndFollows() async throws {
        let daemon = try await populatedDaemon()
        let last = jsonLines(try await ledgerctl("tail", "-n", "3", "--json", "--socket", daemon.socketPath).stdout)
        let head = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq
        #expect(last.compactMap { number($0, "seq") } == [head - 2, head - 1, head])

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("ledgerctl"))
        process.arguments = ["tail", "-f", "-n", "0", "--json", "--socket", daemon.socketPath]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        try await Task.sleep(for: .milliseconds(300))
        let client = daemon.client()
        _ = try await client.transition("live", .created("L1", expectedVersion: 0))
        _ = try await client.transition("live", .created("L2", expectedVersion: 1))
        var received = ""
        let deadline = Date().addingTimeInterval(10)
        while received.split(separator: "\n").count < 2 && Date() < deadline {
            received += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
        process.terminate()
        process.waitUntilExit()
        #expect(jsonLines(received).compactMap { string($0, "sessionId") } == ["L1", "L2"])
    }

    @Test func exitCodes() async throws {
        let unreachable = try await ledgerctl("status", "--socket", "/tmp/no-such-ledgerd.sock")
        #expect(unreachable.status == 3)
        #expect(unreachable.stderr.contains("not reachable"))
        #expect(try await ledgerctl("replay", "--no-such-flag").status == 2)
        #expect(try await ledgerctl("frobnicate").status == 2)
        let help = try await ledgerctl("replay", "--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples:"))
        for command in ["verify", "rebuild", "status", "get", "history", "sessions", "clear", "boot", "tail", "backup", "restore", "export", "import"] {
            let result = try await ledgerctl(command, "--help")
            #expect(result.status == 0 && result.stdout.contains("USAGE"), "\(command) --help")
        }
    }
}
