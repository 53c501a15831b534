/// An event that cannot follow the state it is applied to: the log breaks an invariant.
///
/// The ledger never appends such an event (``SessionMachine/evolve(_:_:)`` re-checks every
/// decided event before it is written); finding one while folding a log means the log was
/// damaged or forged.
public struct InvariantViolation: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Invariant: String, Sendable, Hashable {
        /// I1: an ended session became current again.
        case noResurrection = "I1"
        /// I2: versions are not gapless per conversation (or owner epochs per owner).
        case fencedWrites = "I2"
        /// I3: a session was created with an epoch that was not its owner's current one.
        case epochFencing = "I3"
        /// The event contradicts the state in some other way (wrong supersedes, missing key...).
        case consistency = "consistency"
    }

    public var seq: UInt64
    public var invariant: Invariant
    public var message: String

    public init(seq: UInt64, _ invariant: Invariant, _ message: String) {
        self.seq = seq
        self.invariant = invariant
        self.message = message
    }

    public var description: String { "seq \(seq) breaks \(invariant.rawValue): \(message)" }
}
