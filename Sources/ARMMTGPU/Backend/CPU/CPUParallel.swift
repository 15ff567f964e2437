import Foundation

/// How the CPU backend's fast paths split work over cores.
///
/// Two shapes of split:
/// - `forEachRange` for ops whose every output element is written by exactly one item: the
///   items are cut into one contiguous range per core (more when asked), so results cannot
///   depend on the split;
/// - `reduceRows` for sums across items (dγ, dβ, dbias, weight gradients): items are cut
///   into chunks of a size that depends only on the shape, each chunk sums into its own
///   partial, and the partials are added in chunk order. The same inputs therefore give the
///   same bits on every run and for every number of threads, serial included.
///
/// Below `minParallelWork` (in units the caller chooses, roughly scalar operations) the work
/// runs on the calling thread: dispatching costs a few microseconds.
enum CPUParallel {
    static let cores = ProcessInfo.processInfo.activeProcessorCount
    static let minParallelWork = 1 << 15

    /// Calls `body` on contiguous subranges covering `0..<count` exactly once, concurrently when
    /// `parallel` and `count · workPerItem ≥ minParallelWork`. `tasksPerCore` > 1 evens out
    /// items of uneven cost (masked attention samples).
    static func forEachRange(_ count: Int, workPerItem: Int, parallel: Bool = true, tasksPerCore: Int = 1,
                             _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let tasks = parallel && count * max(workPerItem, 1) >= minParallelWork ? min(count, cores * tasksPerCore) : 1
        if tasks <= 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            body((count * t / tasks)..<(count * (t + 1) / tasks))
        }
    }

    /// Most chunks a reduction is cut into. Without a cap, costly rows (GELU's backward: one
    /// row per chunk) gave one `width`-long partial per row: 64 MB of partials to zero and to
    /// add up serially at 65536 rows, more than the rows' own work.
    static let maxReductionChunks = 64

    /// Rows per reduction chunk for `rows` rows of `workPerRow`: about `minParallelWork / 2`
    /// work per chunk and at most `maxReductionChunks` chunks, a function of the shape only
    /// (never of the core count), so the summation order is fixed.
    static func reductionChunkRows(rows: Int, workPerRow: Int) -> Int {
        max(1, (minParallelWork / 2) / max(workPerRow, 1), (rows + maxReductionChunks - 1) / maxReductionChunks)
    }

    /// Sums per-row contributions into `out[0..<width]` deterministically.
    /// `body(rows, partial)` adds the contributions of `rows` into `partial` (zeroed, `width`
    /// long) and may write per-row outputs of its own; the partials are then added in chunk
    /// order into `out` (overwritten).
    static func reduceRows(_ rows: Int, workPerRow: Int, width: Int, into out: UnsafeMutablePointer<Float>,
                           parallel: Bool = true, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        out.update(repeating: 0, count: width)
        guard rows > 0 else { return }
        let chunk = reductionChunkRows(rows: rows, workPerRow: workPerRow)
        let chunks = (rows + chunk - 1) / chunk
        if chunks == 1 {
            body(0..<rows, out)
            return
        }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * width)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: chunks * width)
        forEachRange(chunks, workPerItem: chunk * workPerRow, parallel: parallel) { range in
            for c in range { body((c * chunk)..<min(rows, (c + 1) * chunk), partials + c * width) }
        }
        for c in 0..<chunks {
            let part = partials + c * width
            for j in 0..<width { out[j] += part[j] }
        }
    }
}
