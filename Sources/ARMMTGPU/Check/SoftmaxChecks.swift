/// Equivalence cases for `Backend.maskedSoftmaxForward`.
///
/// Tolerance: each output is one exp divided by a sum of L exps, so n = L + 4 (the sum's
/// length, plus the √4 allowance for exp's few ulp that the elementwise checks also give).
public enum SoftmaxChecks {
    /// How keys are masked.
    public enum Masking: String, Sendable {
        /// No mask tensor.
        case none
        /// About 30% of keys padded anywhere (never all of a sample's keys); padded scores are NaN.
        case random
        /// As `random`, and sample 1 (sample 0 when B = 1) has no valid key: its rows must be zeros.
        case withEmptySample
    }

    /// Row lengths that are not multiples of any group or lane count.
    public static let lengths = [1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129]

    /// Seeded inputs: scores in [-4, 4] (with the scale, neither flat nor one-hot), a key mask,
    /// and NaN in every masked score so a kernel that reads one fails.
    public static func inputs(batch: Int, rowsPerBatch: Int, length: Int, masking: Masking,
                              seed: UInt64) -> (x: [Float], mask: [Float]?) {
        var rng = SeededRandom(seed: seed &+ UInt64(batch * 7919 + rowsPerBatch * 101 + length))
        var x = rng.floats(batch * rowsPerBatch * length, -4, 4)
        guard masking != .none else { return (x, nil) }
        var m = [Float](repeating: 1, count: batch * length)
        for b in 0..<batch {
            for j in 0..<length where rng.unit() < 0.3 { m[b * length + j] = 0 }
            if !(0..<length).contains(where: { m[b * length + $0] != 0 }) { m[b * length + rng.index(length)] = 1 }
        }
        if masking == .withEmptySample && batch > 0 {
            let empty = batch > 1 ? 1 : 0
            for j in 0..<length { m[empty * length + j] = 0 }
        }
        for r in 0..<(batch * rowsPerBatch) {
            for j in 0..<length where m[(r / rowsPerBatch) * length + j] == 0 { x[r * length + j] = .nan }
        }
        return (x, m)
    }

    /// The Double reference on the same inputs.
    public static func reference(_ p: MaskedSoftmaxParameters, x: [Float], mask: [Float]?) -> [Double] {
        let xd = x.map(Double.init), md = mask?.map(Double.init)
        var y = [Double](repeating: .nan, count: x.count)
        xd.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                if let md {
                    md.withUnsafeBufferPointer { pm in
                        SoftmaxReference.forward(p, x: px.baseAddress!, keyMask: pm.baseAddress!, y: py.baseAddress!)
                    }
                } else {
                    SoftmaxReference.forward(p, x: px.baseAddress!, keyMask: nil, y: py.baseAddress!)
                }
            }
        }
        return y
    }

    public static func make(batch: Int, rowsPerBatch: Int, length: Int, scale: Float = 0.75,
                            masking: Masking = .withEmptySample, inPlace: Bool = false, seed: UInt64 = 5,
                            quick: Bool = false) -> EquivalenceCase {
        var shape = "B=\(batch) rows/B=\(rowsPerBatch) L=\(length)"
        if masking != .withEmptySample { shape += " mask=\(masking.rawValue)" }
        if inPlace { shape += " in-place" }
        return EquivalenceCase(op: "softmax", shape: shape, quick: quick) { backend in
            let p = MaskedSoftmaxParameters(batch: batch, rowsPerBatch: rowsPerBatch, length: length, scale: scale)
            let (x, mask) = inputs(batch: batch, rowsPerBatch: rowsPerBatch, length: length, masking: masking, seed: seed)
            let tx = try backend.tensor(x, shape: [p.rows, length])
            let tm = try mask.map { try backend.tensor($0, shape: [batch, length]) }
            let ty = inPlace ? tx : try backend.makeTensor([p.rows, length])
            if !inPlace { try backend.fill(ty, with: .nan) }
            try backend.maskedSoftmaxForward(p, x: tx, keyMask: tm, y: ty)
            return [Comparison.compare("y", actual: try backend.read(ty), expected: reference(p, x: x, mask: mask),
                                       tolerance: Tolerance(reductionLength: length + 4))]
        }
    }

    /// Every awkward length with a fully masked sample, plus: no mask, in place, one row per
    /// sample, more rows than a work-group holds, the attention shapes (H·Lq = 4·32 rows of 50 or 32).
    public static func cases() -> [EquivalenceCase] {
        var out = lengths.enumerated().map { i, l in
            make(batch: 3, rowsPerBatch: 5, length: l, quick: i < 3)
        }
        out += [
            make(batch: 1, rowsPerBatch: 1, length: 1, masking: .none, quick: true),
            make(batch: 2, rowsPerBatch: 3, length: 7, masking: .random, inPlace: true, quick: true),
            make(batch: 4, rowsPerBatch: 1, length: 17, masking: .none),
            make(batch: 3, rowsPerBatch: 129, length: 3),
            make(batch: 2, rowsPerBatch: 65, length: 513, masking: .random),
            make(batch: 3, rowsPerBatch: 128, length: 50, scale: 0.25),
            make(batch: 3, rowsPerBatch: 128, length: 32, scale: 0.25, inPlace: true),
            make(batch: 0, rowsPerBatch: 4, length: 5),
        ]
        return out
    }
}
