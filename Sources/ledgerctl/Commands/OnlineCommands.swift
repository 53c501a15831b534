import ArgumentParser
import Ledger
import LedgerAPI
import LedgerClient

/// Prints a conversation as a two-column table, or as JSON.
func printSession(_ session: ConversationState, json: Bool) {
    if json {
        Output.standard.write(SessionJSON.encode(session))
        Output.standard.line()
        return
    }
    var table = Table("FIELD", "VALUE")
    table.add("key", session.key)
    table.add("state", session.isActive ? Style.green("active") : Style.dim("none"))
    table.add("session", session.sessionId ?? Style.dim("-"))
    table.add("version", String(session.version))
    table.add("owner", session.owner.map { $0 + (session.epoch.map { " (epoch \($0))" } ?? "") } ?? Style.dim("-"))
    if let environment = session.environment {
        table.add("environment", environment.fields.compactMap { f in f.value.map { "\(f.name)=\($0)" } }.joined(separator: " "))
    }
    if session.version > 0 {
        table.add("created", Timestamp.format(session.createdAt))
        table.add("updated", Timestamp.format(session.updatedAt) + " (seq \(session.lastSeq))")
    }
    Output.standard.write(table.render())
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show ledgerd's status: log head, projection, uptime.",
        discussion: "Example:\n  ledgerctl status --socket /run/ledger/ledgerd.sock")

    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func run() async throws {
        let status = try await socket.call { try await $0.status() }
        if format.json {
            var w = JSONWriter()
            w.value(status)
            Output.standard.write(w.bytes)
            Output.standard.line()
            return
        }
        guard case .object(let object) = status else { throw CLIError.failed("unexpected status answer") }
        var table = Table("FIELD", "VALUE")
        for member in object.members {
            var w = JSONWriter()
            w.value(member.value)
            var text = String(decoding: w.bytes, as: UTF8.self)
            if case .string(let string) = member.value { text = string }
            table.add(member.key, text)
        }
        Output.standard.write(table.render())
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a conversation's current session.",
        discussion: "Exit status 1 when the conversation was never written.\n\nExample:\n  ledgerctl get slack:C123:thread9")

    @Argument(help: "The conversation key.") var key: String
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func run() async throws {
        let session = try await socket.call { try await $0.session(key) }
        printSession(session, json: format.json)
        if session.version == 0 { throw CLIError.failed("no conversation '\(key)' in the ledger") }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a conversation's events, as ledgerd reads them from the log (`replay --key` reads a data directory directly).",
        discussion: "Example:\n  ledgerctl history cli:cli:local")

    @Argument(help: "The conversation key.") var key: String
    @Option(help: "At most this many events.") var limit: Int = 1_000
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    func run() async throws {
        let events = try await socket.call { try await $0.history(key, limit: limit) }
        if format.json {
            var w = JSONWriter()
            for event in events { EventJSON.write(event, into: &w); w.newline() }
            Output.standard.write(w.bytes)
        } else {
            var lines = EventLines()
            for event in events { lines.add(event, to: Output.standard) }
            lines.flush(to: Output.standard)
        }
        if events.isEmpty { throw CLIError.failed("no events for '\(key)'") }
    }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List conversations, by owner and state.",
        discussion: """
            Examples:
              ledgerctl sessions --owner phantom --state active
              ledgerctl sessions --all --json | jq -r .key
            """)

    @Option(help: "Only this owner's conversations.") var owner: String?
    @Option(help: "active or none.") var state: String?
    @Option(help: "Page size.") var limit: Int = 100
    @Option(help: "Start after this cursor (printed at the end of a page).") var after: String?
    @Flag(help: "Follow the cursors and list everything.") var all = false
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func validate() throws {
        if let state, state != "active", state != "none" { throw ValidationError("--state must be active or none") }
        guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() async throws {
        var cursor = after
        var table = Table("KEY", "STATE", "SESSION", "VERSION", "OWNER", "EPOCH", "UPDATED")
        var next: String?
        repeat {
            let page = try await socket.call { try await $0.sessions(owner: owner, state: state, limit: limit, after: cursor) }
            for session in page.sessions {
                if format.json {
                    Output.standard.write(SessionJSON.encode(session))
                    Output.standard.line()
                } else {
                    table.add(session.key, session.isActive ? Style.green("active") : Style.dim("none"), session.sessionId ?? "-",
                              String(session.version), session.owner ?? "-", session.epoch.map(String.init) ?? "-",
                              Timestamp.format(session.updatedAt))
                }
            }
            cursor = page.next
            next = page.next
        } while all && cursor != nil
        if !format.json {
            Output.standard.write(table.render())
            if let next { Output.standard.line(Style.dim("more: --after \(next)")) }
        }
    }
}

struct Clear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reset a conversation: end its current session (the manual reset, audited).",
        discussion: """
            With --session, only that session is cleared (compare-and-clear): if the conversation \
            has moved on, nothing happens and the exit status is 1. Without it, whatever is current \
            is cleared. Either way the version rises, so a turn still running cannot write back a \
            stale session afterwards, and the reset shows up in `ledgerctl replay`.

            Examples:
              ledgerctl clear cli:cli:local --session S1 --reason "dead transcript"
              ledgerctl clear slack:C1:t9 --reason "user asked for a fresh start"
            """)

    @Argument(help: "The conversation key.") var key: String
    @Option(help: "Clear only if this is the current session.") var session: String?
    @Option(help: "Why (recorded in the log).") var reason: String
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func validate() throws {
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
    }

    func run() async throws {
        let outcome = try await socket.call { try await $0.transition(key, .cleared(session, reason: reason)) }
        switch outcome {
        case .accepted(let result):
            if format.json {
                Output.standard.write(result.encode())
                Output.standard.line()
                return
            }
            let before = result.version - 1
            if let cleared = try await socket.call({ try await $0.history(key, after: result.seq - 1, limit: 1) }).first?.event.sessionId {
                Output.standard.line("cleared session \(cleared) of '\(key)': version \(before) → \(result.version) (seq \(result.seq))")
            } else {
                Output.standard.line("nothing was current on '\(key)'; version \(before) → \(result.version) (seq \(result.seq)): turns still running are fenced out")
            }
        case .rejected(let code, let message, let current):
            if format.json {
                Output.standard.write(RejectionBody(error: APIError(status: 409, code: code.rawValue, message: message), session: current).encode())
                Output.standard.line()
            }
            throw CLIError.failed("not cleared (\(code.rawValue)): \(message)" +
                                  (current.sessionId.map { "; re-run with --session \($0) to clear the current one" } ?? ""))
        }
    }
}

import Foundation

struct Boot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Announce an owner's boot: new epoch, stale sessions invalidated.",
        discussion: """
            --invalidate all ends every live session of the owner's earlier epochs; mismatched ends \
            only those whose recorded environment differs from the one given here (a session whose \
            transcript volume survived keeps its continuity).

            Examples:
              ledgerctl boot phantom
              ledgerctl boot archon-1 --invalidate mismatched \\
                  --volume vol-7 --cwd /app --provider anthropic
            """)

    @Argument(help: "The owner (one runtime instance).") var owner: String
    @Option(help: "all or mismatched.") var invalidate: String = "all"
    @Option(help: "Environment: host.") var host: String?
    @Option(help: "Environment: transcript volume.") var volume: String?
    @Option(help: "Environment: working directory.") var cwd: String?
    @Option(help: "Environment: model provider.") var provider: String?
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func validate() throws {
        guard InvalidationPolicy(rawValue: invalidate) != nil else { throw ValidationError("--invalidate must be all or mismatched") }
    }

    func run() async throws {
        let environment = RuntimeEnvironment(host: host, volume: volume, cwd: cwd, provider: provider)
        let result = try await socket.call {
            try await $0.boot(owner: owner, environment: environment.isEmpty ? nil : environment, invalidate: InvalidationPolicy(rawValue: invalidate)!)
        }
        if format.json {
            Output.standard.write(result.encode())
            Output.standard.line()
            return
        }
        Output.standard.line("owner \(owner) booted epoch \(result.epoch) (seq \(result.seq)); \(result.invalidated.count) session\(result.invalidated.count == 1 ? "" : "s") invalidated")
        if !result.invalidated.isEmpty {
            var table = Table("KEY", "SESSION")
            for entry in result.invalidated { table.add(entry.key, entry.sessionId) }
            Output.standard.write(table.render())
        }
    }
}

struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the latest events; with -f, keep showing them as they are committed.",
        discussion: """
            Examples:
              ledgerctl tail -f
              ledgerctl tail -n 50 --key slack:C123:thread9 --json
            """)

    @Flag(name: .shortAndLong, help: "Follow: print events as they are committed.") var follow = false
    @Option(name: .short, help: "How many of the latest events to show first.") var n: Int = 10
    @Option(help: "Only this conversation's events.") var key: String?
    @OptionGroup var socket: SocketOptions
    @OptionGroup var format: FormatOptions

    func run() async throws {
        var lines = EventLines()
        var writer = JSONWriter()
        func show(_ event: LoggedEvent) {
            if format.json {
                writer.reset()
                EventJSON.write(event, into: &writer)
                writer.newline()
                Output.standard.write(writer.bytes)
            } else {
                lines.add(event, to: Output.standard)
            }
        }
        func flush() {
            if !format.json { lines.flush(to: Output.standard) }
            Output.standard.flush()
        }
        try await socket.call { client in
            var from: UInt64 = 1
            if let key {
                let recent = try await client.history(key, limit: 10_000).suffix(n)
                for event in recent { show(event) }
                from = (recent.last?.event.seq ?? 0) + 1
            } else {
                guard case .object(let status) = try await client.status(), case .number(let head)? = status["headSeq"],
                      let headSeq = head.unsignedValue else { throw CLIError.failed("unexpected status answer") }
                from = headSeq >= UInt64(n) ? headSeq - UInt64(n) + 1 : 1
                if headSeq > 0 {
                    for try await event in client.events(from: from, follow: false) { show(event) }
                }
                from = headSeq + 1
            }
            flush()
            guard follow else { return }
            for try await event in client.events(from: from, key: key, follow: true) {
                show(event)
                flush()
            }
        }
        flush()
    }
}
