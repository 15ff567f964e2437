/// CPU reference for `OptimizerOps`, generic over the scalar (`Float`: the CPU backend;
/// `Double`: the self-test reference). Semantics: `OptimizerOps`.
public enum OptimizerReference {
    /// Elements summed in one block before the block's sum joins the total: bounds the
    /// rounding error of a long Float sum (blocked summation) and fixes the order.
    static let block = 256

    /// `Σ x²` over `count` elements, in blocks of `block`. Within a block, eight chains (element
    /// `start + i` in chain `i % 8`) added at the end as `VectorMath.horizontalSum` adds eight
    /// lanes, so the CPU fast path runs a block as one eight-lane vector with these bits.
    public static func sumOfSquares<T: BinaryFloatingPoint & SIMDScalar>(_ x: UnsafePointer<T>, count: Int) -> T {
        var total: T = 0
        var start = 0
        while start < count {
            let end = min(count, start + block)
            var s = SIMD8<T>()
            for i in start..<end { s[(i - start) % 8] += x[i] * x[i] }
            total += ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
            start = end
        }
        return total
    }

    /// `min(1, maxNorm / (norm + 1e-6))`, NaN for a NaN norm (Swift's `min` would drop it).
    public static func clipScale<T: BinaryFloatingPoint>(norm: T, maxNorm: T) -> T {
        let ratio = maxNorm / (norm + T(1e-6))
        return ratio.isNaN ? ratio : min(1, ratio)
    }

    /// One AdamW step over `count` elements; `scalars` from `AdamWParameters.scalars`.
    public static func adamW<T: BinaryFloatingPoint>(_ p: AdamWParameters, parameter: UnsafeMutablePointer<T>,
                                                     gradient: UnsafePointer<T>, m: UnsafeMutablePointer<T>,
                                                     v: UnsafeMutablePointer<T>, count: Int, gradientScale: T) {
        let s = p.scalars
        let decay = T(s.decay), stepSize = T(s.stepSize), bc2 = T(s.biasCorrection2Sqrt)
        let b1 = T(p.beta1), b2 = T(p.beta2), eps = T(p.epsilon)
        let oneMinusB1 = 1 - b1, oneMinusB2 = 1 - b2
        for i in 0..<count {
            let g = gradient[i] * gradientScale
            let w = parameter[i] * decay
            let mi = m[i] + oneMinusB1 * (g - m[i])
            let vi = v[i] * b2 + oneMinusB2 * g * g
            let denom = vi.squareRoot() / bc2 + eps
            parameter[i] = w - stepSize * mi / denom
            m[i] = mi
            v[i] = vi
        }
    }
}
