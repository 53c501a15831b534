import Testing
@testable import Ledger

/// Identifiers: printable text only, checked on the bytes for ASCII and by scalar otherwise.
@Suite struct InputLimitsTests {
    @Test(arguments: ["k", "slack:C1/thread 42", "~!@#$%^&*()_+{}|:\"<>?", "café", "会話-1", "emoji 🚀"])
    func printableIdentifiersPass(_ value: String) {
        #expect(InputLimits.checkIdentifier(value, field: "key") == nil)
    }

    @Test(arguments: ["line\nbreak", "tab\there", "nul\u{0}", "del\u{7F}", "c1\u{85}", "c1 end\u{9F}", "é\u{1}", "\u{1B}[31m"])
    func controlCharactersAreRefusedNamingTheField(_ value: String) {
        let problem = InputLimits.checkIdentifier(value, field: "sessionId")
        #expect(problem?.field == "sessionId")
        #expect(problem?.message.contains("control character") == true)
    }

    @Test func emptyAndOversizedIdentifiersAreRefused() {
        #expect(InputLimits.checkIdentifier("", field: "key")?.message.contains("empty") == true)
        let long = String(repeating: "a", count: InputLimits.maxIdentifierBytes + 1)
        #expect(InputLimits.checkIdentifier(long, field: "key")?.message.contains("bytes") == true)
        #expect(InputLimits.checkIdentifier(String(repeating: "a", count: InputLimits.maxIdentifierBytes), field: "key") == nil)
    }
}
