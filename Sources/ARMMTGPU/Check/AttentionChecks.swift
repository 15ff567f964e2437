/// Equivalence cases for `Backend.attentionForward` / `attentionBackward`.
public enum AttentionChecks {
    /// How keys are masked.
    public enum Masking: String, Sendable {
        /// No mask tensor (every key valid).
        case none
        /// About 30% of keys padded, anywhere in the sequence (never all of a sample's keys).
        case random
        /// As `random`, and sample 1 (sample 0 when B = 1) has no valid key at all.
        case withEmptySample
    }

    /// Where Q, K, V come from.
    public enum Sources: String, Sendable {
        /// Three separate dense tensors.
        case separate
        /// MPSA: one tensor passed as both Q and K (Lq = Lk), V from another tensor.
        case sharedQK
        /// Q and K side by side in one padded, offset tensor (strided layouts); O, dO and V
        /// strided too; dQ and dK written into one shared tensor.
        case packed
    }

    /// Host-side inputs of one case (flat arrays in the layouts of `params`).
    public struct Inputs: Sendable {
        public var params: AttentionParameters
        public var q: [Float], k: [Float], v: [Float], dOut: [Float]
        public var mask: [Float]?
        /// Element counts of the O and dQ/dK tensors (`q.count` when Q and K share a tensor).
        public var outCount: Int, dQCount: Int, dKCount: Int

        /// Seeded random inputs; padding rows of separate K and of V hold NaN, which the
        /// op must never read.
        public static func make(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int,
                                masking: Masking, sources: Sources, seed: UInt64) -> Inputs {
            var p = AttentionParameters(batch: batch, queryLength: queryLength, keyLength: keyLength,
                                        heads: heads, headDim: headDim)
            let w = p.modelWidth
            var rng = SeededRandom(seed: seed &+ UInt64(batch * 7 + queryLength * 1009 + keyLength * 101 + heads * 13 + headDim))
            let rowsQ = batch * queryLength, rowsK = batch * keyLength
            var mask: [Float]? = nil
            if masking != .none {
                var m = [Float](repeating: 1, count: rowsK)
                for b in 0..<batch {
                    var any = false
                    for j in 0..<keyLength where rng.unit() < 0.3 { m[b * keyLength + j] = 0 }
                    for j in 0..<keyLength where m[b * keyLength + j] != 0 { any = true }
                    if !any { m[b * keyLength + rng.index(keyLength)] = 1 }
                }
                if masking == .withEmptySample {
                    let empty = batch > 1 ? 1 : 0
                    for j in 0..<keyLength { m[empty * keyLength + j] = 0 }
                }
                mask = m
            }
            // Scores of order 1-3 so the softmax is neither flat nor one-hot.
            let spread = 2.0
            var q: [Float], k: [Float], v: [Float], dOut: [Float]
            var outCount = rowsQ * w, dQCount = rowsQ * w, dKCount = rowsK * w
            switch sources {
            case .separate:
                q = rng.floats(rowsQ * w, -spread, spread)
                k = rng.floats(rowsK * w, -spread, spread)
                v = rng.floats(rowsK * w)
                dOut = rng.floats(rowsQ * w)
            case .sharedQK:
                precondition(queryLength == keyLength, "shared Q/K needs Lq = Lk")
                q = rng.floats(rowsQ * w, -spread, spread)
                k = q
                v = rng.floats(rowsK * w)
                dOut = rng.floats(rowsQ * w)
            case .packed:
                precondition(queryLength == keyLength, "packed Q/K needs Lq = Lk")
                let stride = 2 * w + 3, offset = 5
                p.qLayout = AttentionLayout(offset: offset, rowStride: stride)
                p.kLayout = AttentionLayout(offset: offset + w, rowStride: stride)
                p.vLayout = AttentionLayout(offset: 2, rowStride: w + 1)
                p.outLayout = AttentionLayout(offset: 1, rowStride: w + 2)
                q = rng.floats(offset + rowsQ * stride, -spread, spread)
                k = q
                v = rng.floats(2 + rowsK * (w + 1))
                outCount = 1 + rowsQ * (w + 2)
                dOut = rng.floats(outCount)
                dQCount = q.count
                dKCount = q.count
            }
            if let mask {
                let va = AttentionReference.Addressing(p, p.vLayout, length: keyLength)
                let ka = AttentionReference.Addressing(p, p.kLayout, length: keyLength)
                for b in 0..<batch {
                    for j in 0..<keyLength where mask[b * keyLength + j] == 0 {
                        for h in 0..<heads {
                            for c in 0..<headDim {
                                v[va.at(b, j, h) + c] = .nan
                                if sources == .separate { k[ka.at(b, j, h) + c] = .nan }
                            }
                        }
                    }
                }
            }
            return Inputs(params: p, q: q, k: k, v: v, dOut: dOut, mask: mask,
                          outCount: outCount, dQCount: dQCount, dKCount: dKCount)
        }
    }

    /// Double reference outputs; elements outside every head window stay NaN.
    public struct Expected: Sendable {
        public var out: [Double], lse: [Double], dQ: [Double], dK: [Double], dV: [Double]
    }

    /// The Double reference forward and backward on `x` (for a packed case `dK` is the same
    /// array as `dQ`, as on the device).
    public static func reference(_ x: Inputs) -> Expected {
        let p = x.params
        let packed = p.qLayout != .dense
        func copy(_ a: [Float]) -> UnsafeMutablePointer<Double> {
            let b = UnsafeMutablePointer<Double>.allocate(capacity: max(a.count, 1))
            for i in 0..<a.count { b[i] = Double(a[i]) }
            return b
        }
        func poisoned(_ n: Int) -> UnsafeMutablePointer<Double> {
            let b = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
            b.initialize(repeating: .nan, count: max(n, 1))
            return b
        }
        let q = copy(x.q), k = copy(x.k), v = copy(x.v), dOut = copy(x.dOut), mask = x.mask.map(copy)
        let lseCount = p.batch * p.heads * p.queryLength
        let out = poisoned(x.outCount), lse = poisoned(lseCount)
        let dQ = poisoned(x.dQCount), dK = packed ? dQ : poisoned(x.dKCount), dV = poisoned(x.v.count)
        defer {
            for b in [q, k, v, dOut, out, lse, dQ, dV] { b.deallocate() }
            if !packed { dK.deallocate() }
            mask?.deallocate()
        }
        AttentionReference.forward(p, q: q, k: k, v: v, keyMask: mask.map { UnsafePointer($0) }, out: out, logSumExp: lse)
        AttentionReference.backward(p, q: q, k: k, v: v, keyMask: mask.map { UnsafePointer($0) }, out: out,
                                    logSumExp: lse, dOut: dOut, dQ: dQ, dK: dK, dV: dV)
        func array(_ b: UnsafeMutablePointer<Double>, _ n: Int) -> [Double] { Array(UnsafeBufferPointer(start: b, count: n)) }
        return Expected(out: array(out, x.outCount), lse: array(lse, lseCount), dQ: array(dQ, x.dQCount),
                        dK: array(dK, x.dKCount), dV: array(dV, x.v.count))
    }

    /// Runs forward then backward on `backend` (outputs poisoned with NaN first; the backward
    /// uses the device's own O and lse, as training does) and compares O, lse, dQ, dK, dV with
    /// the Double reference.
    public static func compare(_ x: Inputs, sources: Sources, on backend: Backend) throws -> [Comparison] {
        let p = x.params
        let tq = try backend.tensor(x.q, shape: shape(p, p.qLayout, p.queryLength, x.q.count))
        let tk = sources == .separate ? try backend.tensor(x.k, shape: shape(p, p.kLayout, p.keyLength, x.k.count)) : tq
        let tv = try backend.tensor(x.v, shape: shape(p, p.vLayout, p.keyLength, x.v.count))
        let tm = try x.mask.map { try backend.tensor($0, shape: [p.batch, p.keyLength]) }
        let to = try backend.makeTensor(shape(p, p.outLayout, p.queryLength, x.outCount))
        let tl = try backend.makeTensor([p.batch, p.heads, p.queryLength])
        let tdo = try backend.tensor(x.dOut, shape: to.shape)
        let tdq = try backend.makeTensor(tq.shape)
        let tdk = sources == .packed ? tdq : try backend.makeTensor(shape(p, p.kLayout, p.keyLength, x.dKCount))
        let tdv = try backend.makeTensor(tv.shape)
        for t in [to, tl, tdq, tdk, tdv] { try backend.fill(t, with: .nan) }
        try backend.attentionForward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl)
        try backend.attentionBackward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl, dOut: tdo,
                                      dQ: tdq, dK: tdk, dV: tdv)
        let e = reference(x)
        let forward = Tolerance(reductionLength: p.keyLength * p.headDim)
        let keySide = Tolerance(reductionLength: p.queryLength * p.headDim)
        return [
            Comparison.compare("O", actual: try backend.read(to), expected: e.out, tolerance: forward),
            Comparison.compare("lse", actual: try backend.read(tl), expected: e.lse, tolerance: forward),
            Comparison.compare(sources == .packed ? "dQK" : "dQ", actual: try backend.read(tdq), expected: e.dQ,
                               tolerance: sources == .packed ? Tolerance(reductionLength: max(p.queryLength, p.keyLength) * p.headDim) : forward),
            Comparison.compare("dK", actual: try backend.read(tdk), expected: e.dK, tolerance: keySide),
            Comparison.compare("dV", actual: try backend.read(tdv), expected: e.dV, tolerance: keySide),
        ]
    }

    /// A dense operand's shape, or a flat one for a strided layout.
    static func shape(_ p: AttentionParameters, _ l: AttentionLayout, _ length: Int, _ count: Int) -> [Int] {
        l == .dense ? [p.batch, length, p.heads, p.headDim] : [count]
    }

    public static func make(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int,
                            masking: Masking = .random, sources: Sources = .separate, seed: UInt64 = 1,
                            quick: Bool = false) -> EquivalenceCase {
        var shape = "B=\(batch) Lq=\(queryLength) Lk=\(keyLength) H=\(heads) dh=\(headDim)"
        if masking != .random { shape += " mask=\(masking.rawValue)" }
        if sources != .separate { shape += " \(sources.rawValue)" }
        return EquivalenceCase(op: "attention", shape: shape, quick: quick) { backend in
            let x = Inputs.make(batch: batch, queryLength: queryLength, keyLength: keyLength, heads: heads,
                                headDim: headDim, masking: masking, sources: sources, seed: seed)
            return try compare(x, sources: sources, on: backend)
        }
    }

    /// A covering set, not the cross product: every length in {1, 2, 3, 7, 15, 16, 17, 31, 33,
    /// 63, 64, 65, 127, 129} on each side, every head-width variant (with non-powers of two),
    /// Lq ≠ Lk, key tiles looped several times, empty samples, MPSA and strided layouts, and the
    /// model's shapes (dh = 16: behaviour Lq=32, Lk=50; list self-attention L=32).
    static func cases() -> [EquivalenceCase] {
        [
            make(batch: 1, queryLength: 1, keyLength: 1, heads: 1, headDim: 8, masking: .none, quick: true),
            make(batch: 3, queryLength: 2, keyLength: 3, heads: 2, headDim: 8, masking: .withEmptySample, quick: true),
            make(batch: 1, queryLength: 3, keyLength: 7, heads: 1, headDim: 24, quick: true),
            make(batch: 3, queryLength: 7, keyLength: 7, heads: 2, headDim: 16, sources: .sharedQK, quick: true),
            make(batch: 1, queryLength: 1, keyLength: 2, heads: 1, headDim: 8, masking: .withEmptySample, quick: true),
            make(batch: 1, queryLength: 3, keyLength: 3, heads: 2, headDim: 40, sources: .packed, quick: true),
            make(batch: 3, queryLength: 2, keyLength: 3, heads: 1, headDim: 100, masking: .withEmptySample, quick: true),
            make(batch: 3, queryLength: 32, keyLength: 50, heads: 4, headDim: 16, masking: .withEmptySample),
            make(batch: 3, queryLength: 32, keyLength: 32, heads: 2, headDim: 16, sources: .sharedQK),
            make(batch: 3, queryLength: 33, keyLength: 33, heads: 2, headDim: 16, sources: .packed),
            make(batch: 3, queryLength: 15, keyLength: 16, heads: 4, headDim: 24),
            make(batch: 1, queryLength: 16, keyLength: 17, heads: 2, headDim: 64, masking: .none),
            make(batch: 3, queryLength: 17, keyLength: 15, heads: 1, headDim: 128, masking: .withEmptySample),
            make(batch: 1, queryLength: 31, keyLength: 33, heads: 2, headDim: 40),
            make(batch: 3, queryLength: 63, keyLength: 65, heads: 1, headDim: 16),
            make(batch: 1, queryLength: 65, keyLength: 64, heads: 2, headDim: 8),
            make(batch: 1, queryLength: 64, keyLength: 63, heads: 1, headDim: 100),
            make(batch: 1, queryLength: 129, keyLength: 127, heads: 1, headDim: 24),
            make(batch: 3, queryLength: 127, keyLength: 129, heads: 1, headDim: 64, masking: .withEmptySample),
            make(batch: 1, queryLength: 33, keyLength: 31, heads: 4, headDim: 128),
            make(batch: 1, queryLength: 2, keyLength: 513, heads: 1, headDim: 16),
            make(batch: 1, queryLength: 7, keyLength: 1, heads: 4, headDim: 32, masking: .none),
        ]
    }
}
