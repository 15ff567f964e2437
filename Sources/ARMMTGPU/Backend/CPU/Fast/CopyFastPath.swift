/// Float fast path of the window copy and the group sum for the CPU backend (math: `CopyOps`;
/// `CopyReference` stays the Double reference).
///
/// The model assembles and splits its concatenations with these (dozens of `[B·K, d]` windows
/// a training step). The reference copies row by row with one `memmove` call per 256-byte row on
/// one core; here rows (or groups) are split over the cores and moved with `RowVectors`. Each
/// output row is written by one task in the reference's order of operations, so results do not
/// depend on the split. Overlapping source and destination ranges keep the reference's serial row
/// order.
enum CopyFastPath {
    static func copyWindow(_ p: WindowCopy, src: UnsafePointer<Float>, srcCount: Int,
                           dst: UnsafeMutablePointer<Float>, dstCount: Int, parallel: Bool) {
        guard !overlap(src, srcCount, dst, dstCount) else {
            CopyReference.copyWindow(p, src: src, dst: dst)
            return
        }
        CPUParallel.forEachRange(p.rows, workPerItem: p.cols, parallel: parallel) { range in
            for r in range {
                let s = src + p.srcOffset + (r / p.repeatRows) * p.srcStride
                let d = dst + p.dstOffset + r * p.dstStride
                switch (p.accumulate, p.scale == 1) {
                case (true, true): RowVectors.add(s, into: d, count: p.cols)
                case (true, false): RowVectors.addScaled(s, by: p.scale, into: d, count: p.cols)
                case (false, true): d.update(from: s, count: p.cols)
                case (false, false): RowVectors.scale(s, by: p.scale, into: d, count: p.cols)
                }
            }
        }
    }

    /// Groups are independent (each writes its own destination row); within a group the rows
    /// are added in order, as in the reference.
    static func sumGroups(_ p: GroupSum, src: UnsafePointer<Float>, srcCount: Int,
                          dst: UnsafeMutablePointer<Float>, dstCount: Int, parallel: Bool) {
        guard !overlap(src, srcCount, dst, dstCount) else {
            CopyReference.sumGroups(p, src: src, dst: dst)
            return
        }
        CPUParallel.forEachRange(p.groups, workPerItem: p.groupSize * p.cols, parallel: parallel) { range in
            for g in range {
                let d = dst + p.dstOffset + g * p.dstStride
                if !p.accumulate { d.update(repeating: 0, count: p.cols) }
                for j in 0..<p.groupSize {
                    RowVectors.add(src + p.srcOffset + (g * p.groupSize + j) * p.srcStride, into: d, count: p.cols)
                }
            }
        }
    }

    private static func overlap(_ src: UnsafePointer<Float>, _ srcCount: Int, _ dst: UnsafeMutablePointer<Float>, _ dstCount: Int) -> Bool {
        (UnsafeRawPointer(src)..<UnsafeRawPointer(src + srcCount)).overlaps(UnsafeRawPointer(dst)..<UnsafeRawPointer(dst + dstCount))
    }
}
