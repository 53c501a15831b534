import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the projection lives in a data directory, and the file-system steps that swap and
/// set aside its files.
///
/// ```
/// <data dir>/projection.sqlite -> projection.g000004.sqlite   (symlink: the live generation)
/// <data dir>/projection.g000004.sqlite(-wal, -shm)
/// <data dir>/forensics/projection-20261121T101500Z-damaged.sqlite   (set aside, never deleted)
/// ```
///
/// A rebuild writes the next generation beside the live one and swaps the symlink with one
/// `rename`, so readers elsewhere keep the old file open (and consistent) until they reopen.
/// SQLite names `-wal` and `-shm` after the symlink's target, so each generation's journal
/// files stay with it.
public struct ProjectionFiles: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The symlink that names the live generation.
    public var livePath: String { "\(directory)/projection.sqlite" }
    public var forensicsDirectory: String { "\(directory)/forensics" }

    public func generationName(_ generation: Int) -> String {
        let digits = String(generation)
        return "projection.g" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".sqlite"
    }

    public func path(ofGeneration generation: Int) -> String { "\(directory)/\(generationName(generation))" }

    /// The generation the symlink points at, or nil when there is no (valid) link.
    public func liveGeneration() -> Int? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: livePath) else { return nil }
        return Self.generation(ofName: (target as NSString).lastPathComponent)
    }

    static func generation(ofName name: String) -> Int? {
        guard name.hasPrefix("projection.g"), name.hasSuffix(".sqlite") else { return nil }
        return Int(name.dropFirst("projection.g".count).dropLast(".sqlite".count))
    }

    /// All generation files present, sorted.
    public func generationsOnDisk() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap(Self.generation(ofName:)).sorted()
    }

    /// The number the next generation gets: above everything on disk.
    public func nextGeneration() -> Int {
        max(liveGeneration() ?? 0, generationsOnDisk().last ?? 0) + 1
    }

    /// Points the live symlink at `generation` atomically (symlink to a temporary name, rename
    /// over the live one, fsync the directory).
    public func makeLive(_ generation: Int) throws {
        let temporary = "\(directory)/.projection.sqlite.\(getpid()).link"
        unlink(temporary)
        guard symlink(generationName(generation), temporary) == 0 else {
            throw ProjectionError(.io, "symlink \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, livePath) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw ProjectionError(.io, "rename \(temporary) -> \(livePath): \(message)")
        }
        try syncDirectory()
    }

    /// Removes a generation's files (the database and its journal files).
    public func remove(generation: Int) {
        let base = path(ofGeneration: generation)
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(base + suffix) }
    }

    /// Moves a generation's files into the forensics directory under a timestamped name, so a
    /// damaged projection is kept for inspection but never opened again.
    ///
    /// - Returns: the path of the database file set aside.
    @discardableResult
    public func setAside(generation: Int, label: String) throws -> String {
        mkdir(forensicsDirectory, 0o700)
        let stamp = Self.timestamp()
        var destination = "\(forensicsDirectory)/projection-\(stamp)-\(label).sqlite"
        var attempt = 1
        while access(destination, F_OK) == 0 {
            attempt += 1
            destination = "\(forensicsDirectory)/projection-\(stamp)-\(label)-\(attempt).sqlite"
        }
        let source = path(ofGeneration: generation)
        for suffix in ["", "-wal", "-shm", "-journal"] where access(source + suffix, F_OK) == 0 {
            guard rename(source + suffix, destination + suffix) == 0 else {
                throw ProjectionError(.io, "rename \(source + suffix) -> \(destination + suffix): \(String(cString: strerror(errno)))")
            }
        }
        try syncDirectory()
        return destination
    }

    /// fsync of the directory, so renames and new names survive power loss.
    public func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw ProjectionError(.io, "open \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ProjectionError(.io, "fsync \(directory): \(String(cString: strerror(errno)))") }
    }

    /// fsync of one file.
    public static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ProjectionError(.io, "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ProjectionError(.io, "fsync \(path): \(String(cString: strerror(errno)))") }
    }

    /// UTC, to the second, sortable: 20261121T101500Z.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}
