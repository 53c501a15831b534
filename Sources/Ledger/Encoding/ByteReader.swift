/// A stored record or state that cannot be decoded: the bytes are damaged, truncated, or of a
/// format this build does not know.
public struct DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads what ``ByteWriter`` wrote, checking every length against the bytes left: hostile or
/// damaged input yields a ``DecodingError``, never a crash or an oversized allocation.
public struct ByteReader: ~Copyable {
    private let base: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer) {
        base = bytes
        offset = 0
    }

    public var remaining: Int { base.count - offset }
    public var isAtEnd: Bool { offset == base.count }

    public mutating func byte() throws(DecodingError) -> UInt8 {
        guard offset < base.count else { throw DecodingError("truncated at byte \(offset)") }
        defer { offset += 1 }
        return base[offset]
    }

    public mutating func varint() throws(DecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw DecodingError("varint overflows 64 bits at byte \(offset)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                // One value, one encoding: a zero final byte after the first is an overlong form.
                if b == 0 && shift > 0 { throw DecodingError("overlong varint at byte \(offset - 1)") }
                return result
            }
            shift += 7
            if shift > 63 { throw DecodingError("varint longer than 10 bytes at byte \(offset)") }
        }
    }

    public mutating func signed() throws(DecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A length-prefixed string, which must be valid UTF-8.
    public mutating func string(maxBytes: Int = 1 << 20) throws(DecodingError) -> String {
        let length = try varint()
        guard length <= UInt64(maxBytes), Int(length) <= remaining else {
            throw DecodingError("string of \(length) bytes at byte \(offset) exceeds the \(remaining) bytes left")
        }
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<offset + Int(length)])
        offset += Int(length)
        guard let value = UTF8Text.validated(slice.bindMemory(to: UInt8.self)) else {
            throw DecodingError("string at byte \(offset - Int(length)) is not valid UTF-8")
        }
        return value
    }

    /// A length-prefixed run of bytes, without copying.
    public mutating func stringBytes() throws(DecodingError) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard Int(exactly: length).map({ $0 <= remaining }) == true else {
            throw DecodingError("field of \(length) bytes at byte \(offset) exceeds the \(remaining) bytes left")
        }
        defer { offset += Int(length) }
        return UnsafeRawBufferPointer(rebasing: base[offset..<offset + Int(length)])
    }

    public mutating func uint64BE() throws(DecodingError) -> UInt64 {
        guard remaining >= 8 else { throw DecodingError("truncated: 8 bytes needed at byte \(offset)") }
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(base[offset]); offset += 1 }
        return value
    }
}
