import Foundation
import Synchronization

/// Where an agent SDK keeps its transcripts. A container restart wipes it, unless it lives on a
/// volume that survives; the volume's identity is what a runtime reports when it boots.
public final class TranscriptStore: Sendable {
    /// The volume it lives on (a new one after a restart that lost the volume).
    public let volume: String
    private let transcripts = Mutex<[String: [String]]>([:])

    public init(volume: String) {
        self.volume = volume
    }

    func exists(_ id: String) -> Bool { transcripts.withLock { $0[id] != nil } }
    func append(_ id: String, _ message: String) { transcripts.withLock { $0[id, default: []].append(message) } }
    func messages(_ id: String) -> [String] { transcripts.withLock { $0[id] ?? [] } }
    func start(_ id: String, _ message: String) { transcripts.withLock { $0[id] = [message] } }
}

/// What a query to the fake SDK returned.
public enum SDKResult: Sendable, Equatable {
    /// The turn ran; `sessionId` holds its transcript.
    case success(sessionId: String)
    /// `error_during_execution`: the SDK could not run the turn. The result carries a session ID
    /// anyway: a new one that has no transcript either (incident A), or the dead one echoed (C).
    case errorDuringExecution(sessionId: String)
}

/// Lets a test hold an SDK call mid-flight, to interleave turns (incidents D and E).
public final class Gate: Sendable {
    private let opened = Mutex(false)

    public init() {}

    public func open() { opened.withLock { $0 = true } }

    func wait() async {
        while !opened.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(2)) }
    }
}

/// A fake agent SDK that behaves like the real one in the ways the incidents depend on.
public final class FakeAgentSDK: Sendable {
    /// What resuming a session whose transcript is gone returns.
    public enum MissingTranscriptBehaviour: Sendable {
        /// A result with a brand-new session ID that has no transcript either (incident A).
        case newSessionId
        /// A result echoing the dead ID (incident C).
        case echoDeadId
    }

    public let transcripts: TranscriptStore
    public let onMissingTranscript: MissingTranscriptBehaviour
    /// Resuming forks: the turn continues the transcript under a new session ID (some SDK modes do).
    public let forksOnResume: Bool
    private let counter = Atomic<Int>(0)
    private let calls = Atomic<Int>(0)
    private let prefix: String

    public init(transcripts: TranscriptStore, onMissingTranscript: MissingTranscriptBehaviour = .newSessionId,
                forksOnResume: Bool = false, prefix: String = "sdk") {
        self.transcripts = transcripts
        self.onMissingTranscript = onMissingTranscript
        self.forksOnResume = forksOnResume
        self.prefix = prefix
    }

    /// SDK calls made so far.
    public var callCount: Int { calls.load(ordering: .relaxed) }

    private func newId() -> String {
        "\(prefix)-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs one turn: resumes `resume` when given, else starts a session.
    ///
    /// - Parameter gate: held closed, the call waits (the turn is "in flight").
    public func query(_ message: String, resume: String?, gate: Gate? = nil) async -> SDKResult {
        calls.wrappingAdd(1, ordering: .relaxed)
        if let gate { await gate.wait() }
        guard let resume else {
            let id = newId()
            transcripts.start(id, message)
            return .success(sessionId: id)
        }
        guard transcripts.exists(resume) else {
            switch onMissingTranscript {
            case .newSessionId: return .errorDuringExecution(sessionId: newId())
            case .echoDeadId: return .errorDuringExecution(sessionId: resume)
            }
        }
        if forksOnResume {
            let id = newId()
            for earlier in transcripts.messages(resume) { transcripts.append(id, earlier) }
            transcripts.append(id, message)
            return .success(sessionId: id)
        }
        transcripts.append(resume, message)
        return .success(sessionId: resume)
    }

    /// How many messages the session's transcript holds (its context).
    public func context(of id: String?) -> Int {
        id.map { transcripts.messages($0).count } ?? 0
    }
}
