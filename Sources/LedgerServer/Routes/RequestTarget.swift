import LedgerAPI

/// A request target split into percent-decoded path segments and query parameters.
struct RequestTarget {
    var segments: [String]
    var query: [String: String]

    /// - Throws: ``APIError`` 400 for malformed percent-encoding or bytes that are not UTF-8.
    init(_ uri: String) throws(APIError) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.first == "" { segments.removeFirst() }
        self.segments = try segments.map { (segment) throws(APIError) -> String in
            try Self.percentDecode(segment, plusIsSpace: false, what: "path")
        }
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.percentDecode(String(kv[0]), plusIsSpace: true, what: "query")
                let value = kv.count == 2 ? try Self.percentDecode(String(kv[1]), plusIsSpace: true, what: "query parameter \(name)") : ""
                query[name] = value
            }
        }
        self.query = query
    }

    static func percentDecode(_ text: String, plusIsSpace: Bool, what: String) throws(APIError) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let c = iterator.next() {
            switch c {
            case UInt8(ascii: "%"):
                guard let h = iterator.next().flatMap(hexValue), let l = iterator.next().flatMap(hexValue) else {
                    throw .invalid(what, "malformed percent-encoding in '\(text)'")
                }
                bytes.append(h << 4 | l)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(0x20)
            default:
                bytes.append(c)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .invalid(what, "percent-encoded bytes are not valid UTF-8")
        }
        return decoded
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A non-negative integer query parameter, or nil when absent.
    func count(_ name: String) throws(APIError) -> UInt64? {
        guard let text = query[name], !text.isEmpty else { return nil }
        guard let value = UInt64(text), value <= UInt64(Int64.max) else {
            throw .invalid(name, "must be a non-negative integer, got '\(text)'")
        }
        return value
    }

    /// A boolean query parameter, or nil when absent: `true`, `1`, `yes` or a bare `?name` are
    /// true; `false`, `0`, `no` are false.
    func flag(_ name: String) throws(APIError) -> Bool? {
        guard let text = query[name] else { return nil }
        switch text.lowercased() {
        case "", "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw .invalid(name, "must be true or false, got '\(text)'")
        }
    }
}
