/// Equivalence cases for `UnfusedAttention`: its `O` against the Double reference of the
/// fused op (`AttentionReference.forward`) and against the device's own fused
/// `attentionForward` on the same tensors. Tolerance n = Lk·dh for both, as the fused checks.
public enum UnfusedAttentionChecks {
    /// Where Q, K, V come from.
    public enum Sources: String, Sendable {
        /// Separate dense tensors.
        case separate
        /// The behaviour cross-attention layout: K = columns `0..<d` and V = columns `d..<2d`
        /// of one `[B·Lk, 2d]` tensor; Q and O dense.
        case packedKV
        /// MPSA: one tensor passed as Q and K.
        case sharedQK
        /// Q and K side by side in one padded, offset tensor; V and O strided too.
        case packed
    }

    /// Seeded inputs (`AttentionChecks.Inputs`) with padded K and V rows made finite (the GEMMs
    /// read them; see `UnfusedAttention`), and for `packedKV` K and V interleaved in one tensor.
    public static func inputs(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int,
                              masking: AttentionChecks.Masking, sources: Sources, seed: UInt64) -> AttentionChecks.Inputs {
        let base: AttentionChecks.Sources = sources == .sharedQK ? .sharedQK : sources == .packed ? .packed : .separate
        var x = AttentionChecks.Inputs.make(batch: batch, queryLength: queryLength, keyLength: keyLength, heads: heads,
                                            headDim: headDim, masking: masking, sources: base, seed: seed)
        var rng = SeededRandom(seed: seed &+ 977)
        for i in x.k.indices where x.k[i].isNaN { x.k[i] = Float(rng.uniform(-2, 2)) }
        for i in x.v.indices where x.v[i].isNaN { x.v[i] = Float(rng.uniform(-1, 1)) }
        if sources == .packedKV {
            let d = x.params.modelWidth, rows = batch * keyLength
            var kv = [Float](repeating: 0, count: rows * 2 * d)
            for r in 0..<rows {
                for c in 0..<d {
                    kv[r * 2 * d + c] = x.k[r * d + c]
                    kv[r * 2 * d + d + c] = x.v[r * d + c]
                }
            }
            x.k = kv
            x.v = kv
            x.dKCount = kv.count
            x.params.kLayout = AttentionLayout(offset: 0, rowStride: 2 * d)
            x.params.vLayout = AttentionLayout(offset: d, rowStride: 2 * d)
        }
        return x
    }

    /// The Double forward `O` (elements outside the head windows stay NaN).
    public static func referenceOut(_ x: AttentionChecks.Inputs) -> [Double] {
        let p = x.params
        let q = x.q.map(Double.init), k = x.k.map(Double.init), v = x.v.map(Double.init), m = x.mask?.map(Double.init)
        var out = [Double](repeating: .nan, count: x.outCount)
        var lse = [Double](repeating: .nan, count: p.batch * p.heads * p.queryLength)
        q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            out.withUnsafeMutableBufferPointer { po in lse.withUnsafeMutableBufferPointer { pl in
                func run(_ pm: UnsafePointer<Double>?) {
                    AttentionReference.forward(p, q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!, keyMask: pm,
                                               out: po.baseAddress!, logSumExp: pl.baseAddress!)
                }
                if let m { m.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            } }
        } } }
        return out
    }

    /// Runs the unfused and the fused forward on `backend` (outputs poisoned with NaN) and
    /// compares the unfused `O` with the Double reference and with the fused `O`.
    public static func compare(_ x: AttentionChecks.Inputs, sources: Sources, on backend: Backend) throws -> [Comparison] {
        let p = x.params
        let tq = try backend.tensor(x.q, shape: AttentionChecks.shape(p, p.qLayout, p.queryLength, x.q.count))
        let tk = sources == .sharedQK || sources == .packed
            ? tq : try backend.tensor(x.k, shape: AttentionChecks.shape(p, p.kLayout, p.keyLength, x.k.count))
        let tv = sources == .packedKV ? tk : try backend.tensor(x.v, shape: AttentionChecks.shape(p, p.vLayout, p.keyLength, x.v.count))
        let tm = try x.mask.map { try backend.tensor($0, shape: [p.batch, p.keyLength]) }
        let outShape = AttentionChecks.shape(p, p.outLayout, p.queryLength, x.outCount)
        let unfusedOut = try backend.makeTensor(outShape), fusedOut = try backend.makeTensor(outShape)
        let lse = try backend.makeTensor([p.batch, p.heads, p.queryLength])
        let unfused = try UnfusedAttention(p, backend: backend)
        for t in [unfusedOut, fusedOut, unfused.scores] { try backend.fill(t, with: .nan) }
        try unfused.forward(q: tq, k: tk, v: tv, keyMask: tm, out: unfusedOut)
        try backend.attentionForward(p, q: tq, k: tk, v: tv, keyMask: tm, out: fusedOut, logSumExp: lse)
        let tol = Tolerance(reductionLength: p.keyLength * p.headDim)
        let actual = try backend.read(unfusedOut)
        return [
            Comparison.compare("O vs reference", actual: actual, expected: referenceOut(x), tolerance: tol),
            Comparison.compare("O vs fused", actual: actual, expected: try backend.read(fusedOut), tolerance: tol),
        ]
    }

    public static func make(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int,
                            masking: AttentionChecks.Masking = .withEmptySample, sources: Sources = .packedKV,
                            seed: UInt64 = 3, quick: Bool = false) -> EquivalenceCase {
        var shape = "B=\(batch) Lq=\(queryLength) Lk=\(keyLength) H=\(heads) dh=\(headDim) \(sources.rawValue)"
        if masking != .withEmptySample { shape += " mask=\(masking.rawValue)" }
        return EquivalenceCase(op: "attention-unfused", shape: shape, quick: quick) { backend in
            let x = inputs(batch: batch, queryLength: queryLength, keyLength: keyLength, heads: heads, headDim: headDim,
                           masking: masking, sources: sources, seed: seed)
            return try compare(x, sources: sources, on: backend)
        }
    }

    /// Lk = 1, a fully masked sample, awkward lengths, every source layout, and the model's
    /// shapes (behaviour Lq=32, Lk=50; list L=32; H=4, dh=16).
    public static func cases() -> [EquivalenceCase] {
        [
            make(batch: 1, queryLength: 1, keyLength: 1, heads: 1, headDim: 8, masking: .none, quick: true),
            make(batch: 3, queryLength: 2, keyLength: 1, heads: 2, headDim: 8, quick: true),
            make(batch: 3, queryLength: 3, keyLength: 7, heads: 2, headDim: 16, sources: .separate, quick: true),
            make(batch: 2, queryLength: 3, keyLength: 3, heads: 2, headDim: 8, sources: .packed, quick: true),
            make(batch: 3, queryLength: 7, keyLength: 7, heads: 2, headDim: 16, masking: .random, sources: .sharedQK),
            make(batch: 3, queryLength: 17, keyLength: 33, heads: 3, headDim: 24),
            make(batch: 2, queryLength: 65, keyLength: 63, heads: 1, headDim: 40, sources: .separate),
            make(batch: 2, queryLength: 31, keyLength: 129, heads: 2, headDim: 16),
            make(batch: 3, queryLength: 32, keyLength: 50, heads: 4, headDim: 16),
            make(batch: 3, queryLength: 32, keyLength: 32, heads: 4, headDim: 16, sources: .sharedQK),
        ]
    }
}
