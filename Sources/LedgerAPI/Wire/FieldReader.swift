/// Reads the members of a JSON object with the API's rules: each field has one type (or null),
/// every problem is a 400 naming the field, and members nobody asked for are refused, so a
/// typo in a field name is reported instead of silently ignored.
public struct FieldReader {
    private let object: JSONObject
    private let prefix: String
    /// Which members were asked for, by position: a bit each for the first 64 (every object of
    /// the API has fewer fields), a lazily made array beyond. This runs for every request, where a
    /// `Set<String>` cost a hash table and its growth each time.
    private var consumed: UInt64 = 0
    private var consumedBeyond64: [Bool] = []

    /// - Parameters:
    ///   - value: must be an object.
    ///   - name: how to call it in errors ("body", "environment").
    public init(_ value: JSONValue, name: String, prefix: String = "") throws(APIError) {
        guard case .object(let object) = value else {
            throw .invalid(name, "must be a JSON object, got \(value.kindDescription)")
        }
        self.object = object
        self.prefix = prefix
    }

    private func path(_ name: String) -> String { prefix + name }

    private mutating func raw(_ name: String) -> JSONValue? {
        guard let index = object.members.firstIndex(where: { $0.key == name }) else { return nil }
        markConsumed(index)
        let value = object.members[index].value
        return value == .null ? nil : value
    }

    private mutating func markConsumed(_ index: Int) {
        if index < 64 {
            consumed |= 1 << UInt64(index)
        } else {
            if consumedBeyond64.isEmpty { consumedBeyond64 = Array(repeating: false, count: object.members.count - 64) }
            consumedBeyond64[index - 64] = true
        }
    }

    private func wasConsumed(_ index: Int) -> Bool {
        if index < 64 { return consumed & (1 << UInt64(index)) != 0 }
        return !consumedBeyond64.isEmpty && consumedBeyond64[index - 64]
    }

    public mutating func string(_ name: String) throws(APIError) -> String? {
        guard let value = raw(name) else { return nil }
        guard case .string(let string) = value else { throw .invalid(path(name), "must be a string, got \(value.kindDescription)") }
        return string
    }

    public mutating func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = try string(name) else { throw .invalid(path(name), "is required") }
        return value
    }

    /// A non-negative integer that fits in a signed 64-bit value (safe for every client language's
    /// integer type), e.g. a version or an epoch.
    public mutating func count(_ name: String) throws(APIError) -> UInt64? {
        guard let value = raw(name) else { return nil }
        guard case .number(let number) = value else { throw .invalid(path(name), "must be a non-negative integer, got \(value.kindDescription)") }
        guard number.isInteger else { throw .invalid(path(name), "must be an integer, got \(number.literal)") }
        guard !number.isNegative else { throw .invalid(path(name), "must not be negative, got \(number.literal)") }
        guard let unsigned = number.unsignedValue, unsigned <= UInt64(Int64.max) else {
            throw .invalid(path(name), "is too large (\(number.literal)); at most \(Int64.max)")
        }
        return unsigned
    }

    public mutating func bool(_ name: String) throws(APIError) -> Bool? {
        guard let value = raw(name) else { return nil }
        guard case .bool(let flag) = value else { throw .invalid(path(name), "must be true or false, got \(value.kindDescription)") }
        return flag
    }

    public mutating func array(_ name: String) throws(APIError) -> [JSONValue]? {
        guard let value = raw(name) else { return nil }
        guard case .array(let elements) = value else { throw .invalid(path(name), "must be an array, got \(value.kindDescription)") }
        return elements
    }

    public mutating func object(_ name: String) throws(APIError) -> JSONValue? {
        guard let value = raw(name) else { return nil }
        guard case .object = value else { throw .invalid(path(name), "must be an object, got \(value.kindDescription)") }
        return value
    }

    /// Refuses members that were not read.
    public func finish() throws(APIError) {
        if let unknown = object.members.indices.first(where: { !wasConsumed($0) }) {
            throw .invalid(path(object.members[unknown].key), "unknown field")
        }
    }
}
