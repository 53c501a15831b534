import Foundation
import LedgerTestSupport
import Testing

/// The help of every command reads as paragraphs in an 80-column terminal.
///
/// ArgumentParser wraps each line of a discussion to the terminal's width on its own, so a
/// discussion written with hard line breaks at 90 columns came out ragged at 80: a full line,
/// then a stub of two words, then a full line again. Paragraphs are one logical line in the
/// source (continued with `\` at the ends of its lines), and examples fit in 80 columns.
@Suite struct HelpTextTests {
    static let tools = ["ledgerctl", "ledgerd", "ledger-bench", "ledger-torture"]

    @Test(arguments: tools) func everyCommandsHelpWrapsAsParagraphsAt80Columns(tool: String) async throws {
        let helps = try await Self.helpTexts(of: tool, path: [])
        #expect(helps.count > 1 || tool != "ledgerctl", "ledgerctl's subcommands were not found in its help")
        for (path, text) in helps {
            let command = ([tool] + path).joined(separator: " ")
            let lines = Self.description(of: text)
            for line in lines where line.count > 80 {
                Issue.record("\(command) --help: a line of \(line.count) columns: \(line)")
            }
            for (line, next) in zip(lines, lines.dropFirst()) where Self.breaksEarly(line, before: next) {
                Issue.record("\(command) --help: a paragraph broken early, before \"\(next.prefix(20))\": \(line)")
            }
        }
    }

    /// `ledger-demo` has no argument parser: `--help` prints its usage instead of running the
    /// demo (which starts a ledgerd), and an argument it does not know is refused.
    @Test func theDemoAnswersHelpWithoutRunningAndRefusesUnknownArguments() async throws {
        let help = try await Subprocess.runAwaiting(Binaries.path("ledger-demo"), ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("USAGE: ledger-demo"))
        #expect(!help.stdout.contains("ledgerd is running"), "--help ran the demo")
        #expect(help.stdout.split(separator: "\n").allSatisfy { $0.count <= 79 })

        let unknown = try await Subprocess.runAwaiting(Binaries.path("ledger-demo"), ["--fast"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown argument '--fast'"))
        #expect(unknown.stdout.isEmpty)
    }

    /// The help of `tool` and of each of its subcommands, by subcommand path.
    static func helpTexts(of tool: String, path: [String]) async throws -> [([String], String)] {
        let result = try await Subprocess.runAwaiting(Binaries.path(tool), path + ["--help"], environment: ["COLUMNS": "80"])
        #expect(result.status == 0, "\(tool) \(path.joined(separator: " ")) --help: \(result.stderr)")
        var found = [(path, result.stdout)]
        guard path.isEmpty, let subcommands = result.stdout.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return found }
        for line in subcommands.components(separatedBy: "\n\n")[0].split(separator: "\n") {
            let words = line.split(separator: " ")
            // "  name   abstract": two spaces of indentation; wrapped abstracts are indented further.
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = words.first, name != "help" else { continue }
            found += try await helpTexts(of: tool, path: [String(name)])
        }
        return found
    }

    /// The overview and discussion: everything before the usage line.
    static func description(of help: String) -> [String] {
        help.components(separatedBy: "\nUSAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Whether `line` ends a line of prose early: the next line continues the paragraph at the
    /// same indentation, and its first word would have fitted on this one (ArgumentParser keeps
    /// a wrapped line to 79 columns at a width of 80). Example lines, one command each, are
    /// indented and are left alone; so are lines that end in a colon.
    static func breaksEarly(_ line: String, before next: String) -> Bool {
        guard !line.isEmpty, !next.isEmpty, !line.hasPrefix(" "), !next.hasPrefix(" "), !line.hasSuffix(":") else { return false }
        let firstWord = next.prefix { $0 != " " }
        return line.count + 1 + firstWord.count <= 79
    }
}
