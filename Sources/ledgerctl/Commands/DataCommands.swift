import ArgumentParser
import Foundation
import Ledger
import LedgerAPI
import Logging
import Projections
#if canImport(Glibc)
import Glibc
#endif

/// A quiet logger for library calls whose findings the command reports itself.
private func quietLogger() -> Logger {
    var logger = Logger(label: "ledgerctl")
    logger.logLevel = .critical
    return logger
}

/// Takes the data directory's lock for an offline write, or explains who holds it.
private func lockForWriting(_ directory: String) throws -> InstanceLock {
    do {
        return try InstanceLock(path: directory + "/ledgerd.lock")
    } catch let busy as InstanceLock.Busy {
        throw CLIError.failed("\(directory) is in use\(busy.holder.map { " by pid \($0)" } ?? "") (ledgerd running?); stop it first")
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a consistent copy of the log while ledgerd runs.",
        discussion: """
            DEST is created (it must not exist) and receives a compacted copy of the log as of the \
            moment the copy began (mdb_env_copy2 in one read transaction: writers go on). Restore it \
            with `ledgerctl restore DEST --data-dir NEW`.

            Example:
              ledgerctl backup /backups/ledger-$(date +%F)
            """)

    @Argument(help: "The backup directory to create.") var destination: String
    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var format: FormatOptions

    func run() throws {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CLIError.failed("\(destination) already exists; a backup goes to a new directory")
        }
        let ledger = try data.openLedger()
        guard mkdir(destination, 0o700) == 0, mkdir(destination + "/log", 0o700) == 0 else {
            throw CLIError.failed("cannot create \(destination): \(String(cString: strerror(errno)))")
        }
        let started = Date()
        do {
            try ledger.environment.copy(to: destination + "/log", compact: true)
            try ProjectionFiles.syncFile(destination + "/log/data.mdb")
            try ProjectionFiles(directory: destination).syncDirectory()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw CLIError.failed("backup failed: \(error)")
        }
        let copy = try Ledger.open(directory: destination + "/log", options: LedgerOptions(readOnly: true))
        let head = try copy.head()
        let size = (try? FileManager.default.attributesOfItem(atPath: destination + "/log/data.mdb")[.size] as? Int) ?? 0
        if format.json {
            Output.standard.line(#"{"destination":"\#(destination)","headSeq":\#(head.seq),"chainHead":"\#(head.hash.hex)","bytes":\#(size)}"#)
        } else {
            Output.standard.line("backed up seq 1…\(Format.count(head.seq)) (chain head \(head.hash.hex.prefix(16))…, \(Format.count(size)) bytes) to \(destination) in \(Format.seconds(Date().timeIntervalSince(started)))")
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a data directory from a backup, verified, with its projection rebuilt.",
        discussion: """
            The data directory must not exist (or be empty). The copied log is verified in full \
            before the projection is built; a backup that fails verification leaves nothing behind.

            Example:
              ledgerctl restore /backups/ledger-2026-11-21 --data-dir /var/lib/ledger
            """)

    @Argument(help: "A directory made by `ledgerctl backup`.") var source: String
    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var format: FormatOptions

    func run() throws {
        let sourceFile = source + "/log/data.mdb"
        guard FileManager.default.fileExists(atPath: sourceFile) else { throw CLIError.failed("\(source) holds no backup (no log/data.mdb)") }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? []
        guard existing.isEmpty else { throw CLIError.failed("\(data.path) is not empty; restore into a new data directory") }
        let created = !FileManager.default.fileExists(atPath: data.path)
        try FileManager.default.createDirectory(atPath: data.logDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            let lock = try lockForWriting(data.path)
            try FileManager.default.copyItem(atPath: sourceFile, toPath: data.logDirectory + "/data.mdb")
            try ProjectionFiles.syncFile(data.logDirectory + "/data.mdb")
            let ledger = try Ledger.open(directory: data.logDirectory)
            let bar = ProgressBar("verifying")
            let report = try LedgerVerifier.verify(ledger) { bar.update($0, of: $1) }
            bar.finish()
            if let problem = report.problem {
                throw CLIError.failed("the backup fails verification at seq \(problem.seq): \(problem.kind.rawValue): \(problem.message); nothing restored")
            }
            try ledger.writeBackHeadState()
            let projection = try Projection.open(directory: data.path, ledger: ledger, logger: quietLogger())
            let checkpoint = try projection.checkpoint()
            projection.close()
            withExtendedLifetime(lock) {}
            if format.json {
                Output.standard.line(#"{"dataDir":"\#(data.path)","headSeq":\#(report.lastSeq),"chainHead":"\#(report.chainHead.hex)","projectionSeq":\#(checkpoint.seq)}"#)
            } else {
                Output.standard.line("restored \(Format.count(report.lastSeq)) events into \(data.path): log verified, projection built (seq \(Format.count(checkpoint.seq)))")
            }
        } catch {
            if created { try? FileManager.default.removeItem(atPath: data.path) } else { for name in (try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? [] { try? FileManager.default.removeItem(atPath: data.path + "/" + name) } }
            throw error
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the log as NDJSON, each event with its stored record (base64).",
        discussion: """
            Each line is an event as `replay --json` prints it, plus "record": the exact stored bytes, \
            checksum and chain link included, so `import` can verify them.

            Examples:
              ledgerctl export > ledger.ndjson
              # continues a replica whose head is seq 5000
              ledgerctl export --from 5001 > tail.ndjson
            """)

    @OptionGroup var data: DataDirectoryOptions
    @Option(help: "First seq.") var from: UInt64 = 1

    func validate() throws {
        if from == 0 { throw ValidationError("--from starts at 1") }
    }

    func run() throws {
        let ledger = try data.openLedger()
        var writer = JSONWriter(capacity: 1_024)
        _ = try ledger.read { snapshot in
            try snapshot.forEachRecord(from: from) { seq, record in
                let logged = try Replay.decode(record, seq: seq)
                writer.reset()
                EventJSON.write(logged, into: &writer, record: Data(record).base64EncodedString())
                writer.newline()
                Output.standard.write(writer.bytes)
                return true
            }
        }
        Output.standard.flush()
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append an export to a data directory, verified record by record.",
        discussion: """
            Into a new (or empty) data directory the file must start at seq 1; into an existing one, \
            right after its head. Every record must pass its checksum, chain from the one before, \
            keep time in order, and fold through the state machine (I1-I3); its JSON fields must \
            match its record. Any failure refuses the whole file: exit status 1, nothing written.

            Example:
              ledgerctl import ledger.ndjson --data-dir /var/lib/ledger-replica
            """)

    @Argument(help: "An NDJSON file made by `ledgerctl export` (- for stdin).") var file: String
    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var format: FormatOptions

    func run() throws {
        let input: Data
        do {
            input = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw CLIError.failed("cannot read \(file): \(error.localizedDescription)")
        }
        // Parse and cross-check everything before anything is written.
        var records: [[UInt8]] = []
        var lineNumber = 0
        for line in input.split(separator: 0x0A, omittingEmptySubsequences: true) {
            lineNumber += 1
            do {
                let value = try JSONParser.parse(Array(line))
                guard case .object(let object) = value, case .string(let encoded)? = object["record"],
                      let record = Data(base64Encoded: encoded) else {
                    throw CLIError.failed("line \(lineNumber): no base64 \"record\" member")
                }
                let claimed = try EventJSON.read(value)
                let bytes = [UInt8](record)
                let stored = try bytes.withUnsafeBytes { try StoredRecord.decode($0) }
                guard stored.event == claimed.event, stored.hash == claimed.hash else {
                    throw CLIError.failed("line \(lineNumber): the event's fields differ from its stored record")
                }
                records.append(bytes)
            } catch let error as CLIError {
                throw CLIError.failed("\(error.message); nothing imported")
            } catch {
                throw CLIError.failed("line \(lineNumber): \(error); nothing imported")
            }
        }
        let created = !FileManager.default.fileExists(atPath: data.path)
        let wasEmpty = created || ((try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? []).isEmpty
        try FileManager.default.createDirectory(atPath: data.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            let lock = try lockForWriting(data.path)
            let ledger = try Ledger.open(directory: data.logDirectory)
            let report: ImportReport
            do {
                report = try ledger.importRecords(records)
            } catch let problem as ImportProblem {
                throw CLIError.failed("refused at line \(problem.position) (seq \(problem.problem.seq)): \(problem.problem.kind.rawValue): \(problem.problem.message); nothing imported")
            }
            try ledger.writeBackHeadState()
            let projection = try Projection.open(directory: data.path, ledger: ledger, logger: quietLogger())
            projection.close()
            withExtendedLifetime(lock) {}
            if format.json {
                Output.standard.line(#"{"imported":\#(report.imported),"headSeq":\#(report.head.seq),"chainHead":"\#(report.head.hash.hex)"}"#)
            } else {
                Output.standard.line("imported \(Format.count(report.imported)) events into \(data.path); head seq \(Format.count(report.head.seq)), chain head \(report.head.hash.hex.prefix(16))…")
            }
        } catch {
            // A refused import leaves no data directory it created.
            if wasEmpty {
                if created { try? FileManager.default.removeItem(atPath: data.path) } else {
                    for name in (try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? [] { try? FileManager.default.removeItem(atPath: data.path + "/" + name) }
                }
            }
            throw error
        }
    }
}
