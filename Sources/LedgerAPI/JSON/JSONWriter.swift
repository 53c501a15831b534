/// Writes compact JSON into a byte array, with no intermediate objects: the responses of the
/// hot paths and the replay stream are written straight from the model.
///
/// Usage: `w.beginObject(); w.key("seq"); w.value(seq); ...; w.endObject()`. Commas are placed
/// automatically.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inline(__always)
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object key; the next call writes its value.
    public mutating func key(_ name: StaticString) {
        // Comma, quotes, name and colon assembled on the stack and appended in one copy: every
        // answer and replay line has a dozen keys, and each append checks the array again.
        let count = name.utf8CodeUnitCount
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count + 4) { buffer in
            var end = 0
            if needsComma { buffer[0] = UInt8(ascii: ","); end = 1 }
            buffer[end] = UInt8(ascii: "\"")
            UnsafeMutableBufferPointer(rebasing: buffer[(end + 1)...]).baseAddress!
                .update(from: name.utf8Start, count: count)
            end += 1 + count
            buffer[end] = UInt8(ascii: "\"")
            buffer[end + 1] = UInt8(ascii: ":")
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<(end + 2)]))
        }
        needsComma = false
    }

    /// A key known only at run time, escaped like a string value.
    ///
    /// Not an overload of ``key(_:)``: Swift ranks `String` above `StaticString` for a string
    /// literal, so with both named `key(_:)` every literal key of every answer and replay line
    /// went through the escaping path (a quarter of `ledgerctl replay --json`'s time).
    public mutating func key(escaping name: String) {
        value(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func null() {
        separate()
        append("null")
        needsComma = true
    }

    public mutating func value(_ flag: Bool) {
        separate()
        append(flag ? "true" : "false")
        needsComma = true
    }

    /// Appends a literal's bytes (no array allocated for them). Through a typed buffer: an
    /// `UnsafeRawBufferPointer` is appended byte by byte, a typed one with one copy.
    @inline(__always)
    private mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    public mutating func value(_ number: UInt64) {
        separate()
        appendDigits(number)
        needsComma = true
    }

    public mutating func value(_ number: Int64) {
        separate()
        if number < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDigits(number.magnitude)
        } else {
            appendDigits(UInt64(number))
        }
        needsComma = true
    }

    public mutating func value(_ number: Int) { value(Int64(number)) }
    public mutating func value(_ number: UInt32) { value(UInt64(number)) }
    public mutating func value(_ number: Int32) { value(Int64(number)) }

    public mutating func value(_ number: Double) {
        separate()
        bytes.append(contentsOf: (number.isFinite ? "\(number)" : "null").utf8)
        needsComma = true
    }

    /// A string, escaped as RFC 8259 requires (quote, backslash, control characters).
    public mutating func value(_ string: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var start = 0
            var i = 0
            let count = utf8.count
            while i < count {
                let c = utf8[i]
                guard c < 0x20 || c == 0x22 || c == 0x5C else {
                    i += 1
                    continue
                }
                if start < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                switch c {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
                start = i + 1
                i += 1
            }
            if start < count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A string whose characters need no escaping, written by `body` straight into the buffer
    /// (timestamps, hex digests: no intermediate String).
    public mutating func quotedASCII(_ body: (inout [UInt8]) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        body(&bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Lowercase hex of `raw`, quoted.
    public mutating func hex(_ raw: UnsafeRawBufferPointer) {
        quotedASCII { out in
            // Filled in place and appended once: an append per digit checked the array each time.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count * 2) { digits in
                for (index, byte) in raw.enumerated() {
                    digits[2 * index] = Self.hexDigit(byte >> 4)
                    digits[2 * index + 1] = Self.hexDigit(byte & 0x0F)
                }
                out.append(contentsOf: digits)
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x57 + nibble
    }

    public mutating func value(_ string: String?) {
        if let string { value(string) } else { null() }
    }

    public mutating func value(_ number: UInt64?) {
        if let number { value(number) } else { null() }
    }

    /// A value already encoded as JSON (trusted: written by this writer).
    public mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// A parsed value, written back.
    public mutating func value(_ json: JSONValue) {
        switch json {
        case .null: null()
        case .bool(let flag): value(flag)
        case .number(let number): separate(); bytes.append(contentsOf: number.literal.utf8); needsComma = true
        case .string(let string): value(string)
        case .array(let elements):
            beginArray()
            for element in elements { value(element) }
            endArray()
        case .object(let object):
            beginObject()
            for member in object.members { key(escaping: member.key); value(member.value) }
            endObject()
        }
    }

    /// Appends a newline (NDJSON record separator) and allows a new top-level value.
    public mutating func newline() {
        bytes.append(0x0A)
        needsComma = false
    }

    private mutating func appendDigits(_ number: UInt64) {
        if number < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(number))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var n = number
        withUnsafeMutableBytes(of: &digits) { buffer in
            while n > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                count += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]).assumingMemoryBound(to: UInt8.self))
        }
    }
}
