/// A record as stored in the log: `body || crc32c(body) || hash`, where body is
/// ``EventCodec``'s encoding, the CRC is 4 bytes little-endian, and hash is the 32-byte
/// ``ChainHash`` linking this record after the previous one:
/// `hash = SHA-256(previous hash || body || crc)`.
///
/// Checks run on the stored bytes themselves, never on a re-encoding, so any changed byte shows.
public enum StoredRecord {
    public static let checksumSize = 4
    public static let hashSize = 32
    public static let trailerSize = checksumSize + hashSize

    /// Builds the stored bytes of `event` and its chain hash.
    ///
    /// - Parameter previous: the hash of the record before (``ChainHash/genesis`` for seq 1).
    public static func seal(_ event: Event, after previous: ChainHash) -> (bytes: [UInt8], hash: ChainHash) {
        var writer = ByteWriter(capacity: 160)
        EventCodec.encode(event, into: &writer)
        var bytes = writer.bytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        let hash = bytes.withUnsafeBytes { ChainHash.link(after: previous, stored: $0) }
        hash.withBytes { bytes.append(contentsOf: $0) }
        return (bytes, hash)
    }

    /// The parts of a stored record, pointing into its bytes.
    public struct Parts {
        /// The event's encoding.
        public var body: UnsafeRawBufferPointer
        /// Body plus checksum: what the chain hash covers.
        public var hashed: UnsafeRawBufferPointer
        public var storedChecksum: UInt32
        public var storedHash: ChainHash

        /// True when the body matches its checksum.
        public var checksumMatches: Bool { CRC32C.checksum(body) == storedChecksum }
    }

    /// Splits stored bytes into their parts, without checking anything but the length.
    public static func parts(_ record: UnsafeRawBufferPointer) throws(DecodingError) -> Parts {
        guard record.count > trailerSize else { throw DecodingError("record of \(record.count) bytes is too short") }
        let bodyEnd = record.count - trailerSize
        let crc = record.loadUnaligned(fromByteOffset: bodyEnd, as: UInt32.self).littleEndian
        return Parts(body: UnsafeRawBufferPointer(rebasing: record[..<bodyEnd]),
                     hashed: UnsafeRawBufferPointer(rebasing: record[..<(bodyEnd + checksumSize)]),
                     storedChecksum: crc,
                     storedHash: ChainHash(bytes: UnsafeRawBufferPointer(rebasing: record[(bodyEnd + checksumSize)...]))!)
    }

    /// The chain hash stored at the end of a record (unchecked).
    public static func storedHash(_ record: UnsafeRawBufferPointer) -> ChainHash {
        guard record.count >= hashSize else { return .genesis }
        return ChainHash(bytes: UnsafeRawBufferPointer(rebasing: record[(record.count - hashSize)...])) ?? .genesis
    }

    /// Checks a record's checksum and decodes its event. The chain link is not checked here:
    /// that needs the previous hash (see ``LedgerVerifier``).
    public static func decode(_ record: UnsafeRawBufferPointer) throws(DecodingError) -> (event: Event, hash: ChainHash) {
        let parts = try parts(record)
        guard parts.checksumMatches else { throw DecodingError("checksum mismatch") }
        return (try EventCodec.decode(parts.body), parts.storedHash)
    }
}
