import Ledger

extension TransitionBody {
    /// Reads a transition body of the shape nearly every client sends, straight from its bytes:
    /// one object of known fields (`environment` a flat object of its four), strings without
    /// escapes, integers without sign, fraction or exponent, no `null`. Anything else (including every malformed body)
    /// gives nil, and the caller reads the body the full way (``JSONParser`` then
    /// ``read(_:)``), which also words every refusal.
    ///
    /// Why: the full way builds a JSON tree and then looks its fields up, about a tenth of an
    /// event loop's time under load. This reads the same fields in one pass. Whatever it
    /// returns, the full way returns too (`ledger-fuzz` checks that on every input of its
    /// transition-body target), so it changes no answer, only what an answer costs.
    ///
    /// - Parameter bytes: the request body.
    /// - Returns: the request, or nil when the body is not of that shape.
    public static func readCommonShape(_ bytes: UnsafeRawBufferPointer) -> TransitionRequest? {
        var reader = CommonShapeReader(bytes)
        return reader.read()
    }
}

/// The one-pass reader behind ``TransitionBody/readCommonShape(_:)``.
private struct CommonShapeReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    private enum Field: UInt8 {
        case type, sessionId, expectedVersion, owner, epoch, reason, reportedSessionId, environment
    }

    mutating func read() -> TransitionRequest? {
        var kind: TransitionKind?
        var sessionId: String?, owner: String?, reason: String?, reportedSessionId: String?
        var expectedVersion: UInt64?, epoch: UInt64?
        var environment: RuntimeEnvironment?
        var seen: UInt8 = 0
        skipWhitespace()
        guard take(UInt8(ascii: "{")) else { return nil }
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return nil }  // no type: the full way says so
        while true {
            skipWhitespace()
            guard let name = plainString(), let field = Self.field(name) else { return nil }
            let bit = UInt8(1) << field.rawValue
            guard seen & bit == 0 else { return nil }  // a duplicate: refused the full way
            seen |= bit
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            switch field {
            case .type:
                guard let text = plainString(), let parsed = TransitionKind(rawValue: String(decoding: text, as: UTF8.self)) else { return nil }
                kind = parsed
            case .expectedVersion:
                guard let count = plainCount() else { return nil }
                expectedVersion = count
            case .epoch:
                guard let count = plainCount() else { return nil }
                epoch = count
            case .environment:
                guard let read = plainEnvironment() else { return nil }
                environment = read
            case .sessionId, .owner, .reason, .reportedSessionId:
                guard let text = plainString(), let string = UTF8Text.validated(text) else { return nil }
                switch field {
                case .sessionId: sessionId = string
                case .owner: owner = string
                case .reason: reason = string
                default: reportedSessionId = string
                }
            }
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return nil }
            break
        }
        skipWhitespace()
        guard index == bytes.count, let kind else { return nil }
        return TransitionRequest(kind: kind, sessionId: sessionId, expectedVersion: expectedVersion, owner: owner, epoch: epoch,
                                 environment: environment, reason: reason, reportedSessionId: reportedSessionId)
    }

    /// `{"host": ..., "volume": ..., "cwd": ..., "provider": ...}`, each at most once, in any
    /// order, plain strings; `{}` too (an environment with nothing in it, as the full way reads it).
    private mutating func plainEnvironment() -> RuntimeEnvironment? {
        var environment = RuntimeEnvironment()
        var seen: UInt8 = 0
        guard take(UInt8(ascii: "{")) else { return nil }
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return environment }
        while true {
            skipWhitespace()
            guard let name = plainString() else { return nil }
            let bit: UInt8
            switch name.count {
            case 4 where name.elementsEqual("host".utf8): bit = 1
            case 6 where name.elementsEqual("volume".utf8): bit = 2
            case 3 where name.elementsEqual("cwd".utf8): bit = 4
            case 8 where name.elementsEqual("provider".utf8): bit = 8
            default: return nil
            }
            guard seen & bit == 0 else { return nil }
            seen |= bit
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            guard let text = plainString(), let value = UTF8Text.validated(text) else { return nil }
            switch bit {
            case 1: environment.host = value
            case 2: environment.volume = value
            case 4: environment.cwd = value
            default: environment.provider = value
            }
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return nil }
            return environment
        }
    }

    private static func field(_ name: UnsafeBufferPointer<UInt8>) -> Field? {
        switch name.count {
        case 4 where name.elementsEqual("type".utf8): .type
        case 9 where name.elementsEqual("sessionId".utf8): .sessionId
        case 15 where name.elementsEqual("expectedVersion".utf8): .expectedVersion
        case 5 where name.elementsEqual("owner".utf8): .owner
        case 5 where name.elementsEqual("epoch".utf8): .epoch
        case 6 where name.elementsEqual("reason".utf8): .reason
        case 17 where name.elementsEqual("reportedSessionId".utf8): .reportedSessionId
        case 11 where name.elementsEqual("environment".utf8): .environment
        default: nil
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string's bytes when it has no escape and no control character; nil otherwise.
    private mutating func plainString() -> UnsafeBufferPointer<UInt8>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]).bindMemory(to: UInt8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    /// A non-negative integer up to `Int64.max` written as plain digits (no leading zero); nil
    /// for anything else, which the full way refuses or reads.
    private mutating func plainCount() -> UInt64? {
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        let digits = index - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0"), value <= UInt64(Int64.max) else { return nil }
        // A fraction or an exponent right after the digits is not a plain count.
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") { return nil }
        return value
    }
}
