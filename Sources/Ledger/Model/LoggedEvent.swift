/// An event as served to readers: its fields and the chain hash the log stores for it.
public struct LoggedEvent: Sendable, Hashable {
    public var event: Event
    public var hash: ChainHash

    public init(event: Event, hash: ChainHash) {
        self.event = event
        self.hash = hash
    }

    /// The event stored at `seq` in the log, from its record, checksum verified.
    ///
    /// - Throws: ``LedgerError/Code/corruptRecord`` when the record does not decode or fails
    ///   its checksum.
    init(seq: UInt64, record: UnsafeRawBufferPointer) throws {
        do {
            (event, hash) = try StoredRecord.decode(record)
        } catch {
            throw LedgerError(.corruptRecord, "seq \(seq): \(error.message)")
        }
    }
}
