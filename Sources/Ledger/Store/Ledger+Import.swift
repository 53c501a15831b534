/// What ``Ledger/importRecords(_:)`` appended.
public struct ImportReport: Sendable {
    public var imported: UInt64
    public var head: LedgerHead
}

/// A record refused by an import, and why.
public struct ImportProblem: Error, Sendable, CustomStringConvertible {
    /// 1-based position of the record in the input.
    public var position: Int
    public var problem: VerifyProblem
    public var description: String { "record \(position): \(problem)" }
}

extension Ledger {
    /// Appends stored records exactly as they are (never re-encoded), in one write transaction.
    ///
    /// Each record must be the next seq, pass its checksum, chain from the current head's hash,
    /// keep time from going back, and fold through the state machine (I1-I3) against the state
    /// the ledger holds. The first record that fails aborts the transaction: nothing is written.
    ///
    /// - Parameter records: stored records, in seq order, starting right after the head.
    /// - Throws: ``ImportProblem`` naming the first bad record; LMDB errors.
    public func importRecords<S: Sequence>(_ records: S) throws -> ImportReport where S.Element == [UInt8] {
        var changed = LedgerState()
        var appended: [Event] = []
        let report = try state.withPublishedView { view, published in try environment.write { txn in
            var head = try layout.head(in: txn)
            // What the import has read or changed, as it left it: each event folds into it in place.
            var working = LedgerState()
            guard head == published else {
                throw LedgerError(.storage, "the log's head is seq \(head.seq) but this ledger last committed seq \(published.seq): another process wrote to the log")
            }
            changed = LedgerState()
            appended = []
            var imported: UInt64 = 0
            for (index, record) in records.enumerated() {
                let expected = head.seq + 1
                let refuse = { (kind: VerifyProblem.Kind, message: String) in
                    ImportProblem(position: index + 1, problem: VerifyProblem(seq: expected, kind: kind, message: message))
                }
                let (parts, event) = try record.withUnsafeBytes { bytes -> (StoredRecord.Parts, Event) in
                    let parts: StoredRecord.Parts
                    do { parts = try StoredRecord.parts(bytes) } catch let error as DecodingError { throw refuse(.undecodable, error.message) }
                    guard parts.checksumMatches else { throw refuse(.checksum, "the record's bytes do not match its CRC32C") }
                    do { return (parts, try EventCodec.decode(parts.body)) } catch let error as DecodingError { throw refuse(.undecodable, error.message) }
                }
                guard event.seq == expected else {
                    throw refuse(event.seq > expected ? .gap : .misplaced, "record is seq \(event.seq); the ledger expects seq \(expected) next")
                }
                let hash = record.withUnsafeBytes { bytes in
                    ChainHash.link(after: head.hash, stored: UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - StoredRecord.hashSize)]))
                }
                guard hash == parts.storedHash else { throw refuse(.chain, "the chain hash does not follow from seq \(head.seq)") }
                guard event.time >= head.time else { throw refuse(.time, "time goes back from \(head.time) to \(event.time)") }
                try view.load(event.needs, into: &working)
                do throws(InvariantViolation) {
                    try working.fold(event, recordingChangesIn: &changed)
                } catch {
                    throw refuse(.invariant, error.description)
                }
                try txn.put(layout.events, key: LedgerLayout.seqKey(event.seq), value: record, append: true)
                appended.append(event)
                head = LedgerHead(seq: event.seq, hash: hash, time: event.time)
                imported += 1
            }
            if imported > 0 { try txn.put(layout.meta, key: LedgerLayout.headKey, value: head.encoded()) }
            return ImportReport(imported: imported, head: head)
        } }
        // The log is committed: only now may readers see the imported state.
        if report.imported > 0 { state.committed(changed, events: appended, head: report.head) }
        return report
    }
}
