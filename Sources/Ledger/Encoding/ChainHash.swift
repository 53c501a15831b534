import Crypto

/// A SHA-256 link of the log's hash chain, held inline (no allocation).
///
/// The hash of record n is SHA-256(hash of record n-1 || record n's stored bytes without its
/// hash); the first record links to ``genesis`` (32 zero bytes).
public struct ChainHash: Sendable, Hashable, CustomStringConvertible {
    var words: (UInt64, UInt64, UInt64, UInt64)

    /// The link before the first record.
    public static let genesis = ChainHash(words: (0, 0, 0, 0))

    init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// Reads 32 bytes.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 32 else { return nil }
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = HexDigit.value(utf8[2 * i]), let lo = HexDigit.value(utf8[2 * i + 1]) else { return nil }
            bytes[i] = hi << 4 | lo
        }
        self.init(bytes: bytes.withUnsafeBytes { $0 })!
    }

    /// The hash that links `stored` (a record's bytes without its hash) after `previous`.
    public static func link(after previous: ChainHash, stored: UnsafeRawBufferPointer) -> ChainHash {
        var hasher = SHA256()
        previous.withBytes { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: stored)
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { ChainHash(bytes: $0)! }
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: words) { try body($0) }
    }

    public static func == (a: ChainHash, b: ChainHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// 64 lowercase hex digits.
    public var hex: String {
        withBytes { bytes in
            let digits: [UInt8] = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(64)
            for b in bytes {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xF)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    public var description: String { hex }
}
