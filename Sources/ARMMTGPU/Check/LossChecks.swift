/// Equivalence cases for `LossOps` against the Double reference.
public enum LossChecks {
    /// Logits mostly in [−4, 4] with a few far out (±30), where a naive BCE or softmax overflows.
    static func logits(_ count: Int, rng: inout SeededRandom) -> [Float] {
        (0..<count).map { _ in rng.unit() < 0.05 ? Float(rng.uniform(-30, 30)) : Float(rng.uniform(-4, 4)) }
    }

    /// Graded labels in {0, 1, 2, 3}, about `positive` of them non-zero.
    static func labels(_ count: Int, positive: Double, rng: inout SeededRandom) -> [Float] {
        (0..<count).map { _ in rng.unit() < positive ? Float(1 + rng.index(3)) : 0 }
    }

    /// Masked BCE over `rows` rows and `targets` targets; labels `[rows, labelWidth]` read from
    /// `labelColumn`. `validFraction` of rows are valid (0: the fully masked batch).
    public static func bce(rows: Int, targets: Int, labelWidth: Int? = nil, labelColumn: Int = 0,
                           validFraction: Double = 0.8, quick: Bool = false) -> EquivalenceCase {
        let lw = labelWidth ?? targets
        return EquivalenceCase(op: "bce",
                               shape: "R=\(rows) T=\(targets)" + (lw != targets ? " L=\(lw) column=\(labelColumn)" : "")
                                   + (validFraction < 0.8 ? " valid=\(validFraction)" : ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(rows * 131 + targets * 7 + lw * 3 + labelColumn) &+ UInt64(validFraction * 1000))
            let x = logits(rows * targets, rng: &rng)
            let y = labels(rows * lw, positive: 0.3, rng: &rng)
            let mask: [Float] = (0..<rows).map { _ in rng.unit() < validFraction ? 1 : 0 }
            let w = rng.floats(targets, 0.25, 2)
            let tx = try backend.tensor(x, shape: [rows, targets]), ty = try backend.tensor(y, shape: [rows, lw])
            let tm = try backend.tensor(mask, shape: [rows]), tw = try backend.tensor(w, shape: [targets])
            let tl = try backend.makeTensor([targets]), td = try backend.makeTensor([rows, targets])
            try backend.fill(tl, with: .nan)
            try backend.fill(td, with: .nan)
            try backend.bceWithLogits(logits: tx, labels: ty, labelColumn: labelColumn, rowMask: tm, weights: tw,
                                      losses: tl, dLogits: td)
            let gotLoss = try backend.read(tl), gotGrad = try backend.read(td)

            var loss = [Double](repeating: .nan, count: targets), grad = [Double](repeating: .nan, count: rows * targets)
            let dx = x.map(Double.init), dy = y.map(Double.init), dm = mask.map(Double.init), dw = w.map(Double.init)
            dx.withUnsafeBufferPointer { px in dy.withUnsafeBufferPointer { py in dm.withUnsafeBufferPointer { pm in
                dw.withUnsafeBufferPointer { pw in loss.withUnsafeMutableBufferPointer { pl in grad.withUnsafeMutableBufferPointer { pg in
                    LossReference.bce(logits: px.baseAddress!, labels: py.baseAddress!, labelWidth: lw, labelColumn: labelColumn,
                                      rowMask: pm.baseAddress!, weights: pw.baseAddress!, rows: rows, targets: targets,
                                      losses: pl.baseAddress!, dLogits: pg.baseAddress!)
                } } }
            } } }
            return [Comparison.compare("losses", actual: gotLoss, expected: loss, tolerance: Tolerance(reductionLength: rows)),
                    Comparison.compare("dLogits", actual: gotGrad, expected: grad, tolerance: Tolerance(reductionLength: 1))]
        }
    }

    /// List-wise softmax CE over `lists` lists of `length` slots. Each list has a random number
    /// of valid leading slots (some lists fully padded when `emptyLists`), and about a third of
    /// the lists have no positive label (skipped).
    public static func listwise(lists: Int, length: Int, targets: Int = 1, labelWidth: Int? = nil, labelColumn: Int = 0,
                                emptyLists: Bool = true, quick: Bool = false) -> EquivalenceCase {
        let lw = labelWidth ?? targets
        return EquivalenceCase(op: "listwise_ce",
                               shape: "B=\(lists) K=\(length) T=\(targets)" + (lw != targets ? " L=\(lw) column=\(labelColumn)" : ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(lists * 7 + length * 1009 + targets * 13 + lw + labelColumn))
            let n = lists * length
            let x = logits(n * targets, rng: &rng)
            var y = [Float](repeating: 0, count: n * lw)
            var mask = [Float](repeating: 0, count: n)
            for b in 0..<lists {
                let valid = emptyLists && rng.unit() < 0.1 ? 0 : 1 + rng.index(length)
                for k in 0..<valid { mask[b * length + k] = 1 }
                // Labels everywhere (padding slots too: the op must ignore them); a third of lists none.
                let positive = rng.unit() < 0.33 ? 0 : 0.3
                for k in 0..<length {
                    for c in 0..<lw where rng.unit() < positive { y[(b * length + k) * lw + c] = Float(1 + rng.index(3)) }
                }
            }
            let w = rng.floats(targets, 0.25, 2)
            let tx = try backend.tensor(x, shape: [lists, length, targets]), ty = try backend.tensor(y, shape: [lists, length, lw])
            let tm = try backend.tensor(mask, shape: [lists, length]), tw = try backend.tensor(w, shape: [targets])
            let tl = try backend.makeTensor([targets]), td = try backend.makeTensor([lists, length, targets])
            let ts = try backend.makeTensor([targets], dtype: .int32)
            try backend.fill(tl, with: .nan)
            try backend.fill(td, with: .nan)
            try backend.writeInt32([Int32](repeating: -7, count: targets), to: ts)
            try backend.listwiseSoftmaxCrossEntropy(logits: tx, labels: ty, labelColumn: labelColumn, mask: tm, weights: tw,
                                                    losses: tl, skipped: ts, dLogits: td)
            let gotLoss = try backend.read(tl), gotGrad = try backend.read(td), gotSkipped = try backend.readInt32(ts)

            var loss = [Double](repeating: .nan, count: targets), grad = [Double](repeating: .nan, count: n * targets)
            var skipped = [Int32](repeating: -1, count: targets)
            let dx = x.map(Double.init), dy = y.map(Double.init), dm = mask.map(Double.init), dw = w.map(Double.init)
            dx.withUnsafeBufferPointer { px in dy.withUnsafeBufferPointer { py in dm.withUnsafeBufferPointer { pm in
                dw.withUnsafeBufferPointer { pw in loss.withUnsafeMutableBufferPointer { pl in grad.withUnsafeMutableBufferPointer { pg in
                    skipped.withUnsafeMutableBufferPointer { ps in
                        LossReference.listwise(logits: px.baseAddress!, labels: py.baseAddress!, labelWidth: lw,
                                               labelColumn: labelColumn, mask: pm.baseAddress!, weights: pw.baseAddress!,
                                               lists: lists, length: length, targets: targets, losses: pl.baseAddress!,
                                               skipped: ps.baseAddress!, dLogits: pg.baseAddress!)
                    }
                } } }
            } } }
            // Counts must match exactly: a tolerance far below 1 on integers does that.
            return [Comparison.compare("losses", actual: gotLoss, expected: loss, tolerance: Tolerance(reductionLength: n)),
                    Comparison.compare("skipped", actual: gotSkipped.map(Float.init), expected: skipped.map(Double.init),
                                       tolerance: Tolerance(reductionLength: 1)),
                    Comparison.compare("dLogits", actual: gotGrad, expected: grad, tolerance: Tolerance(reductionLength: length))]
        }
    }

    public static func cases() -> [EquivalenceCase] {
        [
            bce(rows: 7, targets: 2, quick: true),
            bce(rows: 3, targets: 1, labelWidth: 3, labelColumn: 2, quick: true),
            bce(rows: 5, targets: 2, validFraction: 0, quick: true),
            bce(rows: 1, targets: 1),
            bce(rows: 17, targets: 3),
            bce(rows: 129, targets: 2, labelWidth: 4, labelColumn: 1),
            bce(rows: 1000, targets: 2),
            bce(rows: 5000, targets: 1, labelWidth: 2, labelColumn: 1),
            listwise(lists: 3, length: 5, quick: true),
            listwise(lists: 2, length: 1, targets: 2, quick: true),
            listwise(lists: 4, length: 7, targets: 1, labelWidth: 2, labelColumn: 1, quick: true),
            listwise(lists: 1, length: 1, emptyLists: false),
            listwise(lists: 15, length: 16, targets: 2),
            listwise(lists: 31, length: 33),
            listwise(lists: 63, length: 65, targets: 2, labelWidth: 3, labelColumn: 1),
            listwise(lists: 300, length: 127, targets: 1),
            listwise(lists: 129, length: 17, targets: 3),
        ]
    }
}
