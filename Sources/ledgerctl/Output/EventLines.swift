import Ledger
import LedgerAPI

/// The human format of events, one line each, shared by replay, history and tail:
///
/// ```
/// SEQ  TIME                      KEY                 VER  TRANSITION           SESSION  DETAILS                              ACTOR
/// 12   2026-11-21 10:15:00.123Z  slack:C123:thread9  3    errored              S1       reported S2 · reason error_during_...  uid 1000 pid 4242
/// ```
///
/// Lines are printed in blocks; each block is aligned, and columns only ever widen, so a long
/// stream stays readable without buffering it all.
struct EventLines {
    private var widths = [3, 24, 3, 3, 10, 7, 7]
    private var block: [[String]] = []
    private var printedHeader = false
    static let blockSize = 256

    mutating func add(_ logged: LoggedEvent, to output: Output) {
        block.append(Self.cells(logged.event))
        if block.count >= Self.blockSize { flush(to: output) }
    }

    mutating func flush(to output: Output) {
        if !printedHeader {
            block.insert(["SEQ", "TIME", "KEY", "VER", "TRANSITION", "SESSION", "DETAILS", "ACTOR"].map { Style.bold($0) }, at: 0)
            printedHeader = true
        }
        for row in block {
            for index in 0..<widths.count { widths[index] = max(widths[index], Style.width(row[index])) }
        }
        for row in block {
            var line = ""
            for index in 0..<row.count {
                line += index < widths.count ? Style.pad(row[index], to: widths[index]) + "  " : row[index]
            }
            output.line(line)
        }
        block.removeAll(keepingCapacity: true)
    }

    static func cells(_ event: Event) -> [String] {
        let time = Timestamp.format(event.time).replacingOccurrences(of: "T", with: " ")
        let transition: String
        switch event.type {
        case .created: transition = Style.green(event.type.name)
        case .resumed: transition = event.type.name
        case .errored: transition = Style.red(event.type.name)
        case .cleared: transition = Style.yellow(event.type.name)
        case .invalidatedOnBoot: transition = Style.magenta(event.type.name)
        case .ownerBooted: transition = Style.cyan(event.type.name)
        }
        var details: [String] = []
        if let superseded = event.supersedes { details.append("supersedes \(superseded)") }
        if let reported = event.reportedSessionId { details.append("reported \(reported)") }
        if let owner = event.owner { details.append("owner \(owner)" + (event.epoch.map { " epoch \($0)" } ?? "")) }
        if let environment = event.environment, !environment.isEmpty {
            details.append(environment.fields.compactMap { field in field.value.map { "\(field.name)=\($0)" } }.joined(separator: " "))
        }
        if let reason = event.reason { details.append("reason \"\(Self.escaped(reason))\"") }
        let actor = event.actor.map { "uid \($0.uid) gid \($0.gid) pid \($0.pid)" } ?? "-"
        return [String(event.seq), time, event.key.map(escaped) ?? Style.dim("(owner)"), String(event.version), transition,
                event.sessionId.map(escaped) ?? Style.dim("-"), details.isEmpty ? Style.dim("-") : details.joined(separator: " · "), actor]
    }

    /// Keeps one event on one line whatever its text holds.
    static func escaped(_ text: String) -> String {
        text.unicodeScalars.map { scalar -> String in
            switch scalar {
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            default: return scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            }
        }.joined()
    }
}
