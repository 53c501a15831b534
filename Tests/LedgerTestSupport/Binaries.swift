import Foundation
import Synchronization

/// The package's executables, built beside the test bundle (`swift build --build-tests`).
public enum Binaries {
    /// The directory holding the test bundle, hence the built executables.
    public static let directory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (executable as NSString).deletingLastPathComponent
    }()

    /// The path of a built executable; fails loudly when it is missing.
    public static func path(_ name: String) -> String {
        let path = "\(directory)/\(name)"
        precondition(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run `swift build --build-tests` (make test does)")
        return path
    }
}

/// Runs a command to completion and captures its output.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum Subprocess {
    /// Runs `executable` with `arguments`, feeding `input` on stdin.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           input: String? = nil, currentDirectory: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Runs blocking work (a child process, a long synchronous loop) on a thread of its own and
/// waits for it without holding a thread of Swift's cooperative pool.
///
/// Why: every test of the run shares that pool, which has one thread per core (two here). A
/// test that blocks one for tens of seconds (the torture run, a subprocess over a big log)
/// while another does the same freezes every async test of the process: in a loaded run, a
/// test waiting 120 s for its own writers saw none, and dozens of unrelated tests all finished
/// at the same late instant. Not Dispatch's global queue either: its pool is also about one
/// thread per core, and `Subprocess.run` queues its pipe readers there, so blocking work on it
/// waited for readers queued behind itself (a first version stalled whole runs that way).
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension Subprocess {
    /// ``run(_:_:environment:input:currentDirectory:)`` without holding a cooperative thread
    /// while the child runs.
    public static func runAwaiting(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   input: String? = nil, currentDirectory: String? = nil) async throws -> CommandResult {
        try await offThePool { try run(executable, arguments, environment: environment, input: input, currentDirectory: currentDirectory) }
    }
}

/// A value shared by concurrent tasks of a test, behind a lock.
public final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    public init(_ value: Value) { storage = Mutex(value) }
    public func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
    public var value: Value { storage.withLock { $0 } }
}
