/// Equivalence cases for `Backend.gemm`.
public enum GemmChecks {
    /// Sizes that are not multiples of any tile or work-group size, plus 16 which is one.
    public static let awkwardSizes = [1, 2, 3, 7, 16, 17, 33, 65, 127, 129]

    /// One GEMM at the given sizes. `padded` adds leading-dimension slack, operand offsets
    /// and batch strides with gaps, so the kernel's addressing is exercised and any write
    /// outside C's `[m, n]` windows shows up as a changed padding element.
    public static func make(m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                            alpha: Float = 0.75, beta: Float = -0.5, batch: Int = 1,
                            padded: Bool = false, bias: Bool = false, seed: UInt64 = 1,
                            quick: Bool = false) -> EquivalenceCase {
        var p = GemmParameters(m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta)
        if padded {
            p.lda += 3; p.ldb += 5; p.ldc += 2
            p.offsetA = 7; p.offsetB = 4; p.offsetC = 3; p.offsetBias = 2
        }
        p.batchCount = batch
        let (ar, _) = p.storedA, (br, _) = p.storedB
        p.strideA = ar * p.lda + (padded ? 11 : 0)
        p.strideB = br * p.ldb + (padded ? 6 : 0)
        p.strideC = m * p.ldc + (padded ? 5 : 0)
        let countA = p.offsetA + batch * p.strideA
        let countB = p.offsetB + batch * p.strideB
        let countC = p.offsetC + batch * p.strideC
        let countBias = p.offsetBias + n
        let params = p
        let t = (transA ? "T" : "N") + (transB ? "T" : "N")
        var shape = "\(t) m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta)"
        if batch > 1 { shape += " batch=\(batch)" }
        if padded { shape += " padded" }
        if bias { shape += " +bias" }
        return EquivalenceCase(op: "gemm", shape: shape, quick: quick) { backend in
            var rng = SeededRandom(seed: seed &+ UInt64(m * 1_000_003 + n * 1009 + k))
            let a = rng.floats(countA), b = rng.floats(countB)
            // β = 0 must not read C, so C starts as NaN there: a kernel that reads it fails.
            let c0: [Float] = params.beta == 0 ? [Float](repeating: .nan, count: countC) : rng.floats(countC)
            let biasValues = bias ? rng.floats(countBias) : []

            let ta = try backend.tensor(a, shape: [countA]), tb = try backend.tensor(b, shape: [countB])
            let tc = try backend.tensor(c0, shape: [countC])
            let tbias = bias ? try backend.tensor(biasValues, shape: [countBias]) : nil
            try backend.gemm(params, a: ta, b: tb, c: tc, bias: tbias)
            let got = try backend.read(tc)

            var expected = c0.map(Double.init)
            let da = a.map(Double.init), db = b.map(Double.init), dbias = biasValues.map(Double.init)
            da.withUnsafeBufferPointer { pa in db.withUnsafeBufferPointer { pb in
                dbias.withUnsafeBufferPointer { pbias in expected.withUnsafeMutableBufferPointer { pc in
                    GemmReference.run(params, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!,
                                      bias: bias ? pbias.baseAddress! : nil)
                } }
            } }
            if params.beta == 0 {
                // Padding in C was never written and stays NaN in both; compare only the windows.
                return [windowComparison(got, expected, params, tolerance: Tolerance(reductionLength: k + 2))]
            }
            return [Comparison.compare("C", actual: got, expected: expected, tolerance: Tolerance(reductionLength: k + 2))]
        }
    }

    /// Compares C inside its `[m, n]` windows; elements outside must be untouched (NaN stays NaN).
    static func windowComparison(_ got: [Float], _ expected: [Double], _ p: GemmParameters, tolerance: Tolerance) -> Comparison {
        var inside = [Bool](repeating: false, count: got.count)
        for b in 0..<p.batchCount {
            for i in 0..<p.m {
                for j in 0..<p.n { inside[p.offsetC + b * p.strideC + i * p.ldc + j] = true }
            }
        }
        var exp = expected
        for idx in 0..<got.count where !inside[idx] { exp[idx] = .nan }
        return Comparison.compare("C", actual: got, expected: exp, tolerance: tolerance)
    }

    public static func cases() -> [EquivalenceCase] {
        var out: [EquivalenceCase] = []
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            out.append(make(m: 3, n: 5, k: 7, transA: ta, transB: tb, quick: true))
            out.append(make(m: 1, n: 17, k: 2, transA: ta, transB: tb, beta: 0, quick: true))
            out.append(make(m: 33, n: 65, k: 17, transA: ta, transB: tb))
            out.append(make(m: 129, n: 127, k: 129, transA: ta, transB: tb, beta: 0))
            // α = 1, β = 1 with a reduction past 256: the CPU backend's own kernel and its blocks.
            out.append(make(m: 19, n: 70, k: 300, transA: ta, transB: tb, alpha: 1, beta: 1, padded: true))
            out.append(make(m: 17, n: 16, k: 33, transA: ta, transB: tb, batch: 3, padded: true, bias: true,
                            quick: ta == tb))
            // One tile of C and a long reduction: split over k on a device with two or more
            // compute units (GemmSplitPlan), the last slice ending inside a reduction step.
            out.append(make(m: 33, n: 17, k: 1031, transA: ta, transB: tb, padded: true, bias: true))
            out.append(make(m: 5, n: 3, k: 600, transA: ta, transB: tb, beta: 0, bias: true, quick: ta && !tb))
        }
        out.append(make(m: 256, n: 192, k: 384, transA: false, transB: true, alpha: 1, beta: 0, bias: true))
        out.append(make(m: 65, n: 7, k: 0, transA: false, transB: false, bias: true))
        return out
    }
}
