import Logging
import Synchronization

/// A log handler that keeps what it is given, so tests can read what an operator would see.
final class CapturedLogs: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
    }

    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }

    func lines(atLeast level: Logger.Level) -> [String] {
        entries.filter { $0.level >= level }.map(\.message)
    }

    func logger() -> Logger {
        Logger(label: "test") { _ in Handler(logs: self) }
    }

    fileprivate func append(_ entry: Entry) {
        storage.withLock { $0.append(entry) }
    }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logs.append(Entry(level: event.level, message: "\(event.message)"))
        }
    }
}
