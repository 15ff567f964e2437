/// Float fast path of the window copy and the group sum for the CPU backend (math: `CopyOps`;
/// `CopyReference` stays the Double reference).
///
/// The model assembles and splits its concatenations with these (about thirty 8192 × 64 windows
/// a training step). The reference copies row by row with one `memmove` call per 256-byte row on
/// one core; here rows are split over the cores and moved eight floats at a time. Every output
/// element is computed exactly as the reference computes it (`d + scale·s`, rounded twice), so
/// results are bit-identical to it and independent of the split. Overlapping source and
/// destination ranges keep the reference's serial row order.
enum CopyFastPath {
    static func copyWindow(_ p: WindowCopy, src: UnsafePointer<Float>, srcCount: Int,
                           dst: UnsafeMutablePointer<Float>, dstCount: Int, parallel: Bool) {
        let srcRange = UnsafeRawPointer(src)..<UnsafeRawPointer(src + srcCount)
        let dstRange = UnsafeRawPointer(dst)..<UnsafeRawPointer(dst + dstCount)
        guard !srcRange.overlaps(dstRange) else {
            CopyReference.copyWindow(p, src: src, dst: dst)
            return
        }
        let cols = p.cols, scale = p.scale, s8 = Float8(repeating: p.scale)
        CPUParallel.forEachRange(p.rows, workPerItem: cols, parallel: parallel) { range in
            for r in range {
                let s = src + p.srcOffset + (r / p.repeatRows) * p.srcStride
                let d = dst + p.dstOffset + r * p.dstStride
                var c = 0
                if p.accumulate {
                    while c + 8 <= cols {
                        d.store8(d.load8(c) + s8 * s.load8(c), c)
                        c += 8
                    }
                    while c < cols { d[c] += scale * s[c]; c += 1 }
                } else if scale == 1 {
                    while c + 8 <= cols {
                        d.store8(s.load8(c), c)
                        c += 8
                    }
                    while c < cols { d[c] = s[c]; c += 1 }
                } else {
                    while c + 8 <= cols {
                        d.store8(s8 * s.load8(c), c)
                        c += 8
                    }
                    while c < cols { d[c] = scale * s[c]; c += 1 }
                }
            }
        }
    }

    /// Groups are independent (each writes its own destination row); within a group the rows
    /// are added in order, as in the reference.
    static func sumGroups(_ p: GroupSum, src: UnsafePointer<Float>, srcCount: Int,
                          dst: UnsafeMutablePointer<Float>, dstCount: Int, parallel: Bool) {
        let srcRange = UnsafeRawPointer(src)..<UnsafeRawPointer(src + srcCount)
        let dstRange = UnsafeRawPointer(dst)..<UnsafeRawPointer(dst + dstCount)
        guard !srcRange.overlaps(dstRange) else {
            CopyReference.sumGroups(p, src: src, dst: dst)
            return
        }
        let cols = p.cols
        CPUParallel.forEachRange(p.groups, workPerItem: p.groupSize * cols, parallel: parallel) { range in
            for g in range {
                let d = dst + p.dstOffset + g * p.dstStride
                if !p.accumulate { d.update(repeating: 0, count: cols) }
                for j in 0..<p.groupSize {
                    let s = src + p.srcOffset + (g * p.groupSize + j) * p.srcStride
                    var c = 0
                    while c + 8 <= cols {
                        d.store8(d.load8(c) + s.load8(c), c)
                        c += 8
                    }
                    while c < cols { d[c] += s[c]; c += 1 }
                }
            }
        }
    }
}
