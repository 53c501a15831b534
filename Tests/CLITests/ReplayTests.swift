import Foundation
import Ledger
import LedgerAPI
import LedgerTestSupport
import Testing

@Suite struct ReplayTests {
    @Test func replayAllInSeqOrderAsParseableJSON() async throws {
        let daemon = try await populatedDaemon()
        let result = try await ledgerctl("replay", "--data-dir", daemon.dataDirectory, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let events = jsonLines(result.stdout)
        let head = try Ledger.open(directory: daemon.dataDirectory + "/log", options: LedgerOptions(readOnly: true)).head().seq
        #expect(events.compactMap { number($0, "seq") } == Array(1...head))
        #expect(events.allSatisfy { string($0, "hash")?.count == 64 && member($0, "actor") != nil })
    }

    @Test func filtersCombine() async throws {
        let daemon = try await populatedDaemon()
        let d = daemon.dataDirectory
        let byKey = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--key", "conv-1", "--json").stdout)
        #expect(byKey.allSatisfy { string($0, "key") == "conv-1" })
        #expect(byKey.compactMap { string($0, "type") } == ["created", "created", "created", "created", "errored"])
        #expect(byKey.compactMap { number($0, "version") } == [1, 2, 3, 4, 5])

        let byOwner = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--owner", "rt-b", "--json").stdout)
        #expect(!byOwner.isEmpty && byOwner.allSatisfy { string($0, "owner") == "rt-b" })

        // A session appears as created, then as superseded by the next one.
        let bySession = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--session", "s-2-1", "--json").stdout)
        #expect(bySession.compactMap { string($0, "type") } == ["created", "created"])
        #expect(string(bySession.last, "supersedes") == "s-2-1")
        let ghost = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--session", "ghost-1", "--json").stdout)
        #expect(ghost.compactMap { string($0, "type") } == ["errored"])

        let range = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--from", "5", "--to", "9", "--json").stdout)
        #expect(range.compactMap { number($0, "seq") } == [5, 6, 7, 8, 9])
        let keyInRange = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--key", "conv-0", "--from", "3", "--to", "4", "--json").stdout)
        #expect(keyInRange.compactMap { number($0, "seq") } == [3, 4])
    }

    @Test func sinceAndUntilSelectByTime() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        for i in 0..<3 { _ = try await client.transition("early", .created("e\(i)", expectedVersion: UInt64(i))) }
        try await Task.sleep(for: .milliseconds(50))
        let boundary = Timestamp.format(WallClock.microseconds())
        try await Task.sleep(for: .milliseconds(50))
        for i in 0..<2 { _ = try await client.transition("late", .created("l\(i)", expectedVersion: UInt64(i))) }
        let d = daemon.dataDirectory
        let after = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--since", boundary, "--json").stdout)
        #expect(after.compactMap { string($0, "key") } == ["late", "late"])
        let before = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--until", boundary, "--json").stdout)
        #expect(before.compactMap { string($0, "key") } == ["early", "early", "early"])
        let recent = jsonLines(try await ledgerctl("replay", "--data-dir", d, "--since", "1h", "--json").stdout)
        #expect(recent.count == 5)
        let bad = try await ledgerctl("replay", "--data-dir", d, "--since", "yesterday-ish")
        #expect(bad.status == 2)
    }

    /// "What happened to conversation K, and who did it", in one command, for humans.
    @Test func theHumanReportNamesTheTransitionsAndTheActors() async throws {
        let daemon = try await populatedDaemon()
        _ = try await ledgerctl("clear", "conv-0", "--reason", "operator reset", "--socket", daemon.socketPath)
        let result = try await ledgerctl("replay", "--data-dir", daemon.dataDirectory, "--key", "conv-0")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("SEQ") == true)
        #expect(lines.last?.contains("cleared") == true)
        #expect(lines.last?.contains("reason \"operator reset\"") == true)
        #expect(lines.last?.contains("uid \(getuid())") == true)
        #expect(!result.stdout.contains("\u{1B}["), "no colours when stdout is not a terminal")
    }

    @Test func replayVerifyPassesOnACleanLogAndStopsAtDamage() async throws {
        let daemon = try await populatedDaemon()
        let clean = try await ledgerctl("replay", "--data-dir", daemon.dataDirectory, "--key", "conv-3", "--verify", "--json")
        #expect(clean.status == 0)
        #expect(jsonLines(clean.stdout).count == 4)
        let scratch = TemporaryDirectory("rv")
        let copy = try await LogDamage.copy(of: daemon.dataDirectory, into: scratch, name: "copy")
        try LogDamage.flipByte(inRecord: 10, of: copy)
        let damaged = try await ledgerctl("replay", "--data-dir", copy, "--verify", "--json")
        #expect(damaged.status == 1)
        #expect(damaged.stderr.contains("verification failed at seq 10: checksum"))
        #expect(jsonLines(damaged.stdout).compactMap { number($0, "seq") } == Array(1...9))
    }

    /// `--json` over more than one chunk of the log is rendered on several threads: the bytes
    /// are those one thread writes, with filters and ranges, and a damaged record stops the
    /// replay after every event before it, as it does on one thread.
    @Test func replayOnSeveralThreadsWritesWhatOneThreadWrites() async throws {
        let directory = TemporaryDirectory("rp")
        let data = directory.join("data")
        // 20,000 events (two full chunks of 8,192 and a part), written straight to the log.
        let appended = try await offThePool {
            try FileManager.default.createDirectory(atPath: data + "/log", withIntermediateDirectories: true)
            let ledger = try Ledger.open(directory: data + "/log")
            var versions = [UInt64](repeating: 0, count: 250)
            var appended = 0
            for batch in 0..<80 {
                let commands = (0..<250).map { index in
                    CommandEnvelope(.transition(key: "k\(index)", .created("s\(batch)-\(index)", expectedVersion: versions[index],
                                                                            owner: index % 3 == 0 ? "rt-a" : "rt-b")))
                }
                appended += try ledger.append(commands, now: 1_700_000_000_000_000 + Int64(batch)).events.count
                for index in versions.indices { versions[index] += 1 }
            }
            try ledger.writeBackHeadState()
            return appended
        }
        #expect(appended == 20_000)
        for selection in [[String](), ["--owner", "rt-a"], ["--session", "s3-7"], ["--from", "8000", "--to", "16500"]] {
            let one = try await ledgerctl(["replay", "--data-dir", data, "--json", "--threads", "1"] + selection)
            let three = try await ledgerctl(["replay", "--data-dir", data, "--json", "--threads", "3"] + selection)
            #expect(one.status == 0 && three.status == 0, "\(selection): \(one.stderr)\(three.stderr)")
            #expect(three.stdout == one.stdout, "\(selection)")
            #expect(!one.stdout.isEmpty, "\(selection)")
        }
        let all = jsonLines(try await ledgerctl("replay", "--data-dir", data, "--json", "--threads", "2").stdout)
        #expect(all.compactMap { number($0, "seq") } == Array(1...20_000))
        // A reader that stops early ends the replay quietly, render threads and all.
        let script = "set -o pipefail; '\(Binaries.path("ledgerctl"))' replay --data-dir '\(data)' --json --threads 2 | head -n 2"
        let piped = try await Subprocess.runAwaiting("/bin/bash", ["-c", script])
        #expect(piped.status == 0 && piped.stderr.isEmpty, "exit \(piped.status): \(piped.stderr)")
        #expect(piped.stdout.split(separator: "\n").count == 2)

        // Damage in the third chunk: everything before it is written, then exit 1.
        let copy = try await LogDamage.copy(of: data, into: directory, name: "copy")
        try LogDamage.flipByte(inRecord: 17_000, of: copy)
        let damaged = try await ledgerctl("replay", "--data-dir", copy, "--json", "--threads", "2")
        let sequential = try await ledgerctl("replay", "--data-dir", copy, "--json", "--threads", "1")
        #expect(damaged.status == 1 && sequential.status == 1)
        #expect(damaged.stderr.contains("seq 17000 is damaged"), "\(damaged.stderr)")
        #expect(damaged.stdout == sequential.stdout)
        #expect(jsonLines(damaged.stdout).compactMap { number($0, "seq") } == Array(1...16_999))
    }

    /// `ledgerctl replay | head` ends quietly when head stops reading.
    @Test func replayIntoAClosedPipeExitsQuietly() async throws {
        let daemon = try Daemon()
        let client = daemon.client()
        for i in 0..<1_500 { _ = try await client.transition("k\(i % 20)", .created("s\(i)", expectedVersion: UInt64(i / 20))) }
        let script = "set -o pipefail; '\(Binaries.path("ledgerctl"))' replay --data-dir '\(daemon.dataDirectory)' | head -n 2"
        let result = try await Subprocess.runAwaiting("/bin/bash", ["-c", script])
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.split(separator: "\n").count == 2)
    }
}
