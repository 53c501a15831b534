/// The outcome of deciding a command against the state.
public enum Decision: Sendable, Hashable {
    /// The events to append, in order (seq, time and actor are stamped by the ledger). Empty for
    /// an accepted command that changes nothing: a late `errored` about a session already dead.
    case accepted([Event])
    case rejected(Rejection)
}
