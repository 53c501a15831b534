// ledger-fuzz: the hostile-input harness for the decoders (see FuzzTargets).
//
// Two builds of one source:
// - `make fuzz` builds it with `-sanitize=fuzzer,address -D LIBFUZZER`: libFuzzer supplies
//   `main` and calls `LLVMFuzzerTestOneInput`, coverage-guided, for as long as you let it run.
// - A normal build (what `make test` builds) gets the `main` below: it replays corpus files or
//   crash inputs, writes the seed corpus, or runs a deterministic mutation loop (used in CI).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

#if LIBFUZZER
/// libFuzzer's entry for a program that has its own `main` (compiler-rt, FuzzerDriver.cpp).
/// Declared by symbol name: its arguments are three pointers, which Swift passes in the same
/// registers as C on x86-64 and arm64.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links every executable with `main` aliased to `<module>_main`; in the libFuzzer build
/// that is this function, which hands control to libFuzzer's driver (linked in by
/// `-sanitize=fuzzer`).
@_cdecl("ledger_fuzz_main")
public func libFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOneInput)
}
#else
import Foundation
import Ledger

@main
struct FuzzRunner {
    static let usage = """
        usage: ledger-fuzz FILE|DIR...            run each input (a corpus, a crash libFuzzer kept)
               ledger-fuzz --seeds DIR            write the seed corpus into DIR
               ledger-fuzz --mutate N [--seed S]  N inputs mutated from the seeds, deterministic
        """

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case nil, "-h", "--help":
            print(usage)
            exit(arguments.isEmpty ? 2 : 0)
        case "--seeds":
            guard arguments.count == 2 else { fail(usage) }
            writeSeeds(into: arguments[1])
        case "--mutate":
            guard arguments.count == 2 || (arguments.count == 4 && arguments[2] == "--seed"),
                  let count = Int(arguments[1]), count >= 0 else { fail(usage) }
            let seed = arguments.count == 4 ? UInt64(arguments[3]) : 1
            guard let seed else { fail(usage) }
            mutate(count: count, seed: seed)
        default:
            replay(arguments)
        }
    }

    static func writeSeeds(into directory: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for seed in Seeds.all {
                try Data(seed.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-\(seed.name)"))
            }
            print("wrote \(Seeds.all.count) seeds to \(directory)")
        } catch {
            fail("cannot write seeds: \(error)")
        }
    }

    static func replay(_ paths: [String]) {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("no such file: \(path)") }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
            data.withUnsafeBytes { FuzzTarget.run($0) }
        }
        print("ran \(files.count) inputs: no property violated")
    }

    /// Byte flips, insertions, deletions, splices of seeds and random tails, on every target.
    static func mutate(count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let seeds = Seeds.all.map(\.bytes)
        var perTarget = [Int](repeating: 0, count: FuzzTarget.allCases.count)
        for _ in 0..<count {
            var input = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let position = 1 + Int(random.next() % UInt64(max(1, input.count - 1)))
                switch random.next() % 6 {
                case 0 where position < input.count: input[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: input.insert(UInt8(truncatingIfNeeded: random.next()), at: min(position, input.count))
                case 2 where position < input.count: input.remove(at: position)
                case 3: input.removeLast(Int(random.next() % UInt64(input.count)))
                case 4:
                    let other = seeds[Int(random.next() % UInt64(seeds.count))]
                    input += other.dropFirst(Int(random.next() % UInt64(other.count)))
                default:
                    input += (0..<Int(random.next() % 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                }
            }
            if input.isEmpty { continue }
            perTarget[Int(input[0] % UInt8(perTarget.count))] += 1
            input.withUnsafeBytes { FuzzTarget.run($0) }
        }
        let counts = zip(FuzzTarget.allCases, perTarget).map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        print("ran \(perTarget.reduce(0, +)) mutated inputs (\(counts)): no property violated")
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
#endif
