/// Text from bytes that must be valid UTF-8, with a fast path for ASCII.
///
/// `String(validating:as:)` is generic and looks up its type metadata at run time on every
/// call: that lookup was ~8 % of a replay and ~2 % of an event loop under load, where nearly
/// every string (keys, session IDs, request targets, JSON fields) is ASCII. ASCII is valid
/// UTF-8 as it stands, so it takes `String(decoding:as:)`'s specialized path instead.
public enum UTF8Text {
    /// The string the bytes spell, or nil when they are not valid UTF-8.
    @inlinable
    public static func validated(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Whether every byte is below 0x80.
    @inlinable
    public static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var combined: UInt8 = 0
        for byte in bytes { combined |= byte }
        return combined < 0x80
    }
}
