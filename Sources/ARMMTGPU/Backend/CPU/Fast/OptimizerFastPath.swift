import CAVX512

/// Float fast path of the optimizer ops for the CPU backend, with the bits of
/// `OptimizerReference` (math: `OptimizerOps`), so a training run's numbers do not depend on
/// which of the two runs:
/// - AdamW: the reference's operations in its order, sixteen elements at a time on an AVX-512
///   host (`armmt_avx512_adamw`), else eight, elements split over cores. Each step is one IEEE
///   operation (no fused multiply-add), so every lane rounds as the scalar loop does.
/// - Sum of squares (the global gradient norm): the reference's blocks of
///   `OptimizerReference.block` elements, each block one eight-lane vector of chains (the
///   reference's eight chains) and four blocks side by side, blocks spread over cores, and the
///   block sums added in the reference's order.
enum OptimizerFastPath {
    static func adamW(_ p: AdamWParameters, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                      m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                      gradientScale: Float, parallel: Bool) {
        let s = p.scalars
        let decay = Float(s.decay), stepSize = Float(s.stepSize), bc2 = Float(s.biasCorrection2Sqrt)
        let b1 = p.beta1, b2 = p.beta2, eps = p.epsilon
        let oneMinusB1 = 1 - b1, oneMinusB2 = 1 - b2
        let wide = CPUVectorUnit.current == .avx512
        CPUParallel.forEachRange(count, workPerItem: 16, parallel: parallel) { range in
            if wide {
                let i = range.lowerBound
                armmt_avx512_adamw(range.count, parameter + i, gradient + i, m + i, v + i, gradientScale, decay, stepSize,
                                   bc2, b1, b2, eps)
                return
            }
            // (parameter, m, v) of eight elements.
            @inline(__always) func step(_ param: Float8, _ grad: Float8, _ mOld: Float8, _ vOld: Float8) -> (Float8, Float8, Float8) {
                let g = grad * gradientScale
                let w = param * decay
                let mi = mOld + oneMinusB1 * (g - mOld)
                let vi = vOld * b2 + oneMinusB2 * g * g
                let denom = VectorMath.squareRoot(vi) / bc2 + eps
                return (w - stepSize * mi / denom, mi, vi)
            }
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let (pi, mi, vi) = step(parameter.load8(i), gradient.load8(i), m.load8(i), v.load8(i))
                parameter.store8(pi, i)
                m.store8(mi, i)
                v.store8(vi, i)
                i += 8
            }
            let rest = range.upperBound - i
            guard rest > 0 else { return }
            let (pi, mi, vi) = step(VectorMath.loadPartial(parameter + i, rest), VectorMath.loadPartial(gradient + i, rest),
                                    VectorMath.loadPartial(m + i, rest), VectorMath.loadPartial(v + i, rest))
            VectorMath.storePartial(pi, parameter + i, rest)
            VectorMath.storePartial(mi, m + i, rest)
            VectorMath.storePartial(vi, v + i, rest)
        }
    }

    /// `Σ x²` over every tensor: per tensor its blocks' sums in block order, then the tensors'
    /// totals in tensor order, each rounding as in `OptimizerReference.sumOfSquares`.
    static func sumOfSquares(_ tensors: [(values: UnsafePointer<Float>, count: Int)], parallel: Bool) -> Float {
        let block = OptimizerReference.block
        // Tensor i's blocks are first[i] ..< first[i + 1] and owner[b] is block b's tensor, so a
        // core's range of blocks may cross tensors.
        var first = [0], owner: [Int] = []
        for (i, t) in tensors.enumerated() {
            owner += repeatElement(i, count: (t.count + block - 1) / block)
            first.append(owner.count)
        }
        let blocks = owner.count
        guard blocks > 0 else { return 0 }
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
        defer { sums.deallocate() }
        owner.withUnsafeBufferPointer { owner in
            CPUParallel.forEachRange(blocks, workPerItem: 2 * block, parallel: parallel) { range in
                var b = range.lowerBound
                while b < range.upperBound {
                    let t = tensors[owner[b]], start = (b - first[owner[b]]) * block
                    let x = t.values + start, n = min(block, t.count - start)
                    // Four whole blocks of one tensor side by side: one block's chain alone
                    // waits on each add.
                    if b + 4 <= range.upperBound, start + 4 * block <= t.count, block % 8 == 0 {
                        var s0 = Float8(), s1 = Float8(), s2 = Float8(), s3 = Float8()
                        for k in stride(from: 0, to: block, by: 8) {
                            let v0 = x.load8(k), v1 = x.load8(block + k), v2 = x.load8(2 * block + k), v3 = x.load8(3 * block + k)
                            s0 += v0 * v0
                            s1 += v1 * v1
                            s2 += v2 * v2
                            s3 += v3 * v3
                        }
                        sums[b] = VectorMath.horizontalSum(s0)
                        sums[b + 1] = VectorMath.horizontalSum(s1)
                        sums[b + 2] = VectorMath.horizontalSum(s2)
                        sums[b + 3] = VectorMath.horizontalSum(s3)
                        b += 4
                        continue
                    }
                    var s = Float8()
                    for k in stride(from: 0, to: n, by: 8) {
                        let v = k + 8 <= n ? x.load8(k) : VectorMath.loadPartial(x + k, n - k)
                        s += v * v
                    }
                    sums[b] = VectorMath.horizontalSum(s)
                    b += 1
                }
            }
        }
        var total: Float = 0
        for i in tensors.indices {
            var tensorTotal: Float = 0
            for b in first[i]..<first[i + 1] { tensorTotal += sums[b] }
            total += tensorTotal
        }
        return total
    }
}
