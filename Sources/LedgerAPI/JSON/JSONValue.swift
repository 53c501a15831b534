/// A parsed JSON document. Objects keep their members in order; numbers keep their literal,
/// so integers are read exactly (no detour through `Double`).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A short name of the value's kind, for error messages: "a string", "null", ...
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let n): n.isInteger ? "an integer" : "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON number as written.
public struct JSONNumber: Sendable, Hashable {
    /// The literal, e.g. `42`, `-1`, `1.5e3`.
    public var literal: String

    public init(literal: String) {
        self.literal = literal
    }

    /// True when the literal has no fraction and no exponent.
    public var isInteger: Bool { !literal.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } }

    public var isNegative: Bool { literal.utf8.first == UInt8(ascii: "-") }

    /// The value as a non-negative integer, or nil when it is negative, fractional or > `UInt64.max`.
    public var unsignedValue: UInt64? {
        guard isInteger, !isNegative else { return nil }
        return UInt64(literal)
    }

    /// The value as a signed integer, or nil when fractional or out of range.
    public var signedValue: Int64? {
        isInteger ? Int64(literal) : nil
    }
}

/// A JSON object: members in document order, keys unique (the parser refuses duplicates).
public struct JSONObject: Sendable, Hashable {
    public var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    public subscript(key: String) -> JSONValue? {
        members.first { $0.key == key }?.value
    }

    public var keys: [String] { members.map(\.key) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for member in members {
            hasher.combine(member.key)
            hasher.combine(member.value)
        }
    }
}
