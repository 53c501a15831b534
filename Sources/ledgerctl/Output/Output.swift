import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffered standard output. A write to a closed pipe (`ledgerctl replay | head`) ends the
/// program at once, quietly and successfully: the reader has all it wanted.
final class Output: @unchecked Sendable {
    static let standard = Output(descriptor: 1)

    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 16)
    }

    var isTerminal: Bool { isatty(descriptor) == 1 }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    func line(_ text: String = "") {
        write(text)
        write("\n")
    }

    /// Writes a large block as it is, after what is buffered, without copying it into the buffer.
    func writeBlock(_ bytes: [UInt8]) {
        flush()
        bytes.withUnsafeBytes { writeAll($0) }
    }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { exit(0) }
                break
            }
            offset += written
        }
    }

    /// A message on stderr (never buffered).
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }
}

/// ANSI styles, used only when stdout is a terminal and NO_COLOR is unset.
enum Style {
    static let enabled = Output.standard.isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func apply(_ code: String, _ text: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func bold(_ text: String) -> String { apply("1", text) }
    static func dim(_ text: String) -> String { apply("2", text) }
    static func red(_ text: String) -> String { apply("31", text) }
    static func green(_ text: String) -> String { apply("32", text) }
    static func yellow(_ text: String) -> String { apply("33", text) }
    static func magenta(_ text: String) -> String { apply("35", text) }
    static func cyan(_ text: String) -> String { apply("36", text) }

    /// The visible width of a styled string (escape sequences take no room).
    static func width(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape { if scalar == "m" { inEscape = false }; continue }
            if scalar == "\u{1B}" { inEscape = true; continue }
            width += 1
        }
        return width
    }

    static func pad(_ text: String, to width: Int) -> String {
        let missing = width - self.width(text)
        return missing > 0 ? text + String(repeating: " ", count: missing) : text
    }
}

/// An aligned table: a header and rows of cells (cells may be styled).
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        rows.append(cells)
    }

    mutating func add(_ cells: [String]) {
        rows.append(cells)
    }

    func render() -> String {
        var widths = headers.map { Style.width($0) }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], Style.width(cell))
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : Style.pad(cell, to: widths[index]) }
                .joined(separator: "  ")
        }
        var out = line(headers.map { Style.bold($0) }) + "\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }
}

/// A progress bar on stderr, only on a terminal, redrawn at most ten times a second.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let enabled = isatty(2) == 1
    private var lastDraw = 0.0
    private var drawn = false

    init(_ label: String) {
        self.label = label
    }

    func update(_ done: UInt64, of total: UInt64) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let filled = Int(fraction * 30)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(Int(fraction * 100))% \(Format.count(done))/\(Format.count(total))".utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Number formats for reports.
enum Format {
    static func count(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }

    static func count(_ value: Int) -> String { count(UInt64(max(0, value))) }

    static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }

    static func rate(_ count: UInt64, _ seconds: Double) -> String {
        Format.count(UInt64(Double(count) / max(seconds, 1e-9))) + " events/s"
    }
}
