/// The one tolerance rule for comparing a float32 result `a` with a reference `b`
/// (float32 CPU backend or the Double reference):
///
///     |a − b| ≤ rtol · (|b| + S),   rtol = 16 · u · √n,   S = max_j |b_j|
///
/// `u = 2⁻²⁴` is float32's unit roundoff and `n` the length of the longest reduction that
/// feeds an output (k for GEMM, the feature width for LayerNorm, keys × head width for
/// attention). Why this shape:
/// - summing n rounded terms in any order has a typical error of u·√n times the size of
///   the terms (a random walk of roundings); the worst case n·u is never approached by
///   random inputs, and orders differ between kernels, so √n is the honest growth;
/// - the `S` term makes the bound norm-wise: an output that cancels to near zero is judged
///   against the scale of the tensor it belongs to, not against itself. Where a whole tensor
///   is a difference of larger terms (LayerNorm's dx for d ≤ 2 cancels to exactly 0), the
///   check states the size of those terms as S instead: rounding errors are relative to the
///   terms, and max |b| alone would demand bits the float inputs never had;
/// - the factor 16 covers the handful of roundings outside the reduction (exp, division,
///   rsqrt, fma vs separate multiply-add) that each op adds on top.
/// Non-finite values pass only where the reference holds the same non-finite value.
public struct Tolerance: Sendable {
    public static let unitRoundoff = 0x1.0p-24
    public let reductionLength: Int
    public let rtol: Double

    public init(reductionLength: Int) {
        self.reductionLength = max(1, reductionLength)
        rtol = 16 * Tolerance.unitRoundoff * Double(self.reductionLength).squareRoot()
    }
}

/// The outcome of comparing one output tensor.
public struct Comparison: Codable, Sendable {
    public var tensor: String
    public var count: Int
    public var maxAbsError: Double
    /// max |a−b| / |b| over elements with |b| ≥ 1e-3·max|b| (for reading; the verdict uses the rule).
    public var maxRelError: Double
    /// The worst ratio of error to allowed error: ≤ 1 passes.
    public var worstRatio: Double
    public var firstFailure: Int?
    public var passed: Bool { firstFailure == nil }

    /// `termScale`: the size of the terms the outputs are differences of, when larger than the
    /// outputs themselves (see the rule above); S is the larger of it and max |b|.
    public static func compare<R: BinaryFloatingPoint>(_ name: String, actual: [Float], expected: [R],
                                                      tolerance: Tolerance, termScale: Double = 0) -> Comparison {
        precondition(actual.count == expected.count, "\(name): \(actual.count) vs \(expected.count) elements")
        var scale = termScale
        for e in expected where e.isFinite { scale = max(scale, abs(Double(e))) }
        var maxAbs = 0.0, maxRel = 0.0, worst = 0.0
        var failure: Int? = nil
        for i in 0..<actual.count {
            let a = Double(actual[i]), b = Double(expected[i])
            if !b.isFinite || !a.isFinite {
                let same = (a.isNaN && b.isNaN) || a == b
                if !same {
                    if failure == nil { failure = i }
                    maxAbs = .infinity
                    worst = .infinity
                }
                continue
            }
            let err = abs(a - b)
            let allowed = tolerance.rtol * (abs(b) + scale)
            maxAbs = max(maxAbs, err)
            if abs(b) >= 1e-3 * scale, abs(b) > 0 { maxRel = max(maxRel, err / abs(b)) }
            let ratio = allowed > 0 ? err / allowed : (err == 0 ? 0 : .infinity)
            worst = max(worst, ratio)
            if err > allowed && failure == nil { failure = i }
        }
        return Comparison(tensor: name, count: actual.count, maxAbsError: maxAbs, maxRelError: maxRel,
                          worstRatio: worst, firstFailure: failure)
    }
}
