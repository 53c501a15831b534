import Foundation

/// A fresh directory under /tmp, removed when released. Paths stay short: Unix socket paths are
/// limited to 103 bytes.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "t") {
        var template = Array("/tmp/lg-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(errno)")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    public func join(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
