import Foundation
import Projections

/// Renders a range of seqs in chunks on several threads and writes the chunks in seq order.
///
/// Why: `ledgerctl replay --json` over a whole log is CPU work per event (decode, check, encode)
/// with no order between events until they are written, so on a machine with more than one core
/// it is split. A bounded window of chunks is in flight at a time, so memory stays a few chunks
/// deep however long the log is.
struct OrderedChunks {
    /// What rendering one chunk gave: its bytes, and the error that stopped it early (its bytes
    /// are then those of the events before the error, written before the error is thrown, as a
    /// sequential replay would have).
    struct Rendered: Sendable {
        var bytes: [UInt8]
        var error: (any Error)?
    }

    var first: UInt64
    var last: UInt64
    var chunkSize: UInt64
    var threads: Int

    /// The number of chunks the range splits into.
    var count: Int { Int((last - first) / chunkSize) + 1 }

    /// The seqs of chunk `index`.
    func range(_ index: Int) -> ClosedRange<UInt64> {
        let start = first + UInt64(index) * chunkSize
        return start...min(last, start + chunkSize - 1)
    }

    /// Renders every chunk with `render` on `threads` threads and hands the bytes to `write`
    /// on the calling thread, in order.
    ///
    /// - Throws: the first error a chunk reported, after writing everything before it.
    func run(render: @escaping @Sendable (ClosedRange<UInt64>) -> Rendered, write: ([UInt8]) -> Void) throws {
        let state = SharedState(window: max(2, threads * 2))
        for _ in 0..<threads {
            state.started()
            let thread = Thread { [self] in
                ThreadName.setCurrent("replay-render")
                while let index = state.claim(below: count) {
                    state.deliver(index, render(range(index)))
                }
                state.finished()
            }
            thread.start()
        }
        defer { state.stopAndJoin() }
        for index in 0..<count {
            let rendered = state.take(index)
            write(rendered.bytes)
            if let error = rendered.error { throw error }
        }
    }

    /// The chunks claimed, rendered and written, shared by the renderers and the writer.
    private final class SharedState: @unchecked Sendable {
        private let condition = NSCondition()
        // Guarded by `condition`.
        private var nextToClaim = 0
        private var nextToWrite = 0
        private var rendered: [Int: Rendered] = [:]
        private var running = 0
        private var stopping = false
        private let window: Int

        init(window: Int) { self.window = window }

        func started() {
            condition.lock()
            running += 1
            condition.unlock()
        }

        func finished() {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }

        /// The next chunk to render, once it is within the window ahead of the writer; nil when
        /// none is left or the writer stopped.
        func claim(below count: Int) -> Int? {
            condition.lock()
            defer { condition.unlock() }
            while !stopping && nextToClaim < count && nextToClaim - nextToWrite >= window { condition.wait() }
            guard !stopping, nextToClaim < count else { return nil }
            defer { nextToClaim += 1 }
            return nextToClaim
        }

        func deliver(_ index: Int, _ result: Rendered) {
            condition.lock()
            rendered[index] = result
            condition.broadcast()
            condition.unlock()
        }

        /// Waits for chunk `index` and takes it; the window moves on.
        func take(_ index: Int) -> Rendered {
            condition.lock()
            defer { condition.unlock() }
            while rendered[index] == nil { condition.wait() }
            nextToWrite = index + 1
            condition.broadcast()
            return rendered.removeValue(forKey: index)!
        }

        /// Stops handing out chunks and waits until every renderer has returned.
        func stopAndJoin() {
            condition.lock()
            stopping = true
            condition.broadcast()
            while running > 0 { condition.wait() }
            condition.unlock()
        }
    }
}
