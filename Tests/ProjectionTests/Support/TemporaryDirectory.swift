import Foundation

/// A fresh directory under the system temp dir, removed when the value is deinitialised.
/// Paths stay short because Unix socket paths are limited to 103 bytes.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String = "t") {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/lg-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(errno)")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func join(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
