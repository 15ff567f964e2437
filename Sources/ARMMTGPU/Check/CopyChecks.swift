/// Equivalence cases for `CopyOps`.
public enum CopyChecks {
    public static func copyCase(_ p: WindowCopy, quick: Bool = false, seed: UInt64 = 5) -> EquivalenceCase {
        let srcRows = (p.rows + p.repeatRows - 1) / p.repeatRows
        let srcCount = p.srcOffset + max(0, srcRows - 1) * p.srcStride + p.cols + 3
        let dstCount = p.dstOffset + max(0, p.rows - 1) * p.dstStride + p.cols + 2
        let shape = "rows=\(p.rows) cols=\(p.cols) repeat=\(p.repeatRows)\(p.accumulate ? " +=" : "")"
        return EquivalenceCase(op: "copyWindow", shape: shape, quick: quick) { backend in
            var rng = SeededRandom(seed: seed)
            let src = rng.floats(srcCount), dst0 = rng.floats(dstCount)
            let ts = try backend.tensor(src, shape: [srcCount]), td = try backend.tensor(dst0, shape: [dstCount])
            try backend.copyWindow(p, from: ts, to: td)
            var expected = dst0.map(Double.init)
            let ds = src.map(Double.init)
            ds.withUnsafeBufferPointer { s in expected.withUnsafeMutableBufferPointer { d in
                CopyReference.copyWindow(p, src: s.baseAddress!, dst: d.baseAddress!)
            } }
            return [Comparison.compare("dst", actual: try backend.read(td), expected: expected, tolerance: Tolerance(reductionLength: 2))]
        }
    }

    public static func sumCase(_ p: GroupSum, quick: Bool = false, seed: UInt64 = 6) -> EquivalenceCase {
        let srcCount = p.srcOffset + max(0, p.groups * p.groupSize - 1) * p.srcStride + p.cols + 1
        let dstCount = p.dstOffset + max(0, p.groups - 1) * p.dstStride + p.cols + 4
        let shape = "groups=\(p.groups) size=\(p.groupSize) cols=\(p.cols)\(p.accumulate ? " +=" : "")"
        return EquivalenceCase(op: "sumGroups", shape: shape, quick: quick) { backend in
            var rng = SeededRandom(seed: seed)
            let src = rng.floats(srcCount)
            // Overwrite mode must not read dst: start it as NaN there.
            let dst0: [Float] = p.accumulate ? rng.floats(dstCount) : [Float](repeating: .nan, count: dstCount)
            let ts = try backend.tensor(src, shape: [srcCount]), td = try backend.tensor(dst0, shape: [dstCount])
            try backend.sumGroups(p, from: ts, to: td)
            var expected = dst0.map(Double.init)
            let ds = src.map(Double.init)
            ds.withUnsafeBufferPointer { s in expected.withUnsafeMutableBufferPointer { d in
                CopyReference.sumGroups(p, src: s.baseAddress!, dst: d.baseAddress!)
            } }
            return [Comparison.compare("dst", actual: try backend.read(td), expected: expected,
                                       tolerance: Tolerance(reductionLength: p.groupSize + 1))]
        }
    }

    public static func cases() -> [EquivalenceCase] {
        [
            copyCase(WindowCopy(rows: 3, cols: 5, srcStride: 7, dstStride: 9, srcOffset: 1, dstOffset: 2), quick: true),
            copyCase(WindowCopy(rows: 7, cols: 3, dstStride: 8, dstOffset: 5, repeatRows: 3, accumulate: true, scale: -0.5), quick: true),
            copyCase(WindowCopy(rows: 256 * 33, cols: 65, dstStride: 130, dstOffset: 65, repeatRows: 33)),
            copyCase(WindowCopy(rows: 129, cols: 127, srcStride: 200, accumulate: true)),
            // Large enough to be split over cores by the CPU fast path, odd widths for the tails.
            copyCase(WindowCopy(rows: 1031, cols: 67, srcStride: 70, dstStride: 80, srcOffset: 3, dstOffset: 13,
                                accumulate: true, scale: 0.75)),
            copyCase(WindowCopy(rows: 1031, cols: 63, dstStride: 64, scale: -2)),
            sumCase(GroupSum(groups: 3, groupSize: 5, cols: 7, srcStride: 9, srcOffset: 2), quick: true),
            sumCase(GroupSum(groups: 2, groupSize: 1, cols: 17, dstStride: 20, accumulate: true), quick: true),
            sumCase(GroupSum(groups: 129, groupSize: 33, cols: 65, srcStride: 130, srcOffset: 65, accumulate: true)),
        ]
    }
}
