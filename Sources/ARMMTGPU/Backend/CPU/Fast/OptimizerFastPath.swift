/// Float fast path of the optimizer ops for the CPU backend, with the bits of
/// `OptimizerReference` (math: `OptimizerOps`), so a training run's numbers do not depend on
/// which of the two runs:
/// - AdamW: the reference's operations in its order, eight elements at a time, elements split
///   over cores. Each step is one IEEE operation (no fused multiply-add), so every lane rounds
///   as the scalar loop does.
/// - Sum of squares (the global gradient norm): the reference's blocks of
///   `OptimizerReference.block` elements, each block one eight-lane vector of chains (the
///   reference's eight chains), blocks spread over cores, and the block sums added in the
///   reference's order.
enum OptimizerFastPath {
    static func adamW(_ p: AdamWParameters, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                      m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                      gradientScale: Float, parallel: Bool) {
        let s = p.scalars
        let decay = Float(s.decay), stepSize = Float(s.stepSize), bc2 = Float(s.biasCorrection2Sqrt)
        let b1 = p.beta1, b2 = p.beta2, eps = p.epsilon
        let oneMinusB1 = 1 - b1, oneMinusB2 = 1 - b2
        CPUParallel.forEachRange(count, workPerItem: 16, parallel: parallel) { range in
            var i = range.lowerBound
            while i < range.upperBound {
                let lanes = min(8, range.upperBound - i)
                @inline(__always) func load(_ x: UnsafePointer<Float>) -> Float8 {
                    lanes == 8 ? x.load8(i) : VectorMath.loadPartial(x + i, lanes)
                }
                @inline(__always) func store(_ value: Float8, _ x: UnsafeMutablePointer<Float>) {
                    if lanes == 8 { x.store8(value, i) } else { VectorMath.storePartial(value, x + i, lanes) }
                }
                let mOld = load(m)
                let g = load(gradient) * gradientScale
                let w = load(parameter) * decay
                let mi = mOld + oneMinusB1 * (g - mOld)
                let vi = load(v) * b2 + oneMinusB2 * g * g
                let denom = vi.squareRoot() / bc2 + eps
                store(w - stepSize * mi / denom, parameter)
                store(mi, m)
                store(vi, v)
                i += lanes
            }
        }
    }

    /// `Σ x²` over every tensor: per tensor its blocks' sums in block order, then the tensors'
    /// totals in tensor order, each rounding as in `OptimizerReference.sumOfSquares`.
    static func sumOfSquares(_ tensors: [(values: UnsafePointer<Float>, count: Int)], parallel: Bool) -> Float {
        let block = OptimizerReference.block
        var firstBlock = [Int](), blocks = 0
        for t in tensors {
            firstBlock.append(blocks)
            blocks += (t.count + block - 1) / block
        }
        guard blocks > 0 else { return 0 }
        // Block b's tensor and first element, so a core's range of blocks may cross tensors.
        var owner = [Int](repeating: 0, count: blocks)
        for (i, t) in tensors.enumerated() where t.count > 0 {
            for b in firstBlock[i]..<(firstBlock[i] + (t.count + block - 1) / block) { owner[b] = i }
        }
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
        defer { sums.deallocate() }
        owner.withUnsafeBufferPointer { owner in
            CPUParallel.forEachRange(blocks, workPerItem: 2 * block, parallel: parallel) { range in
                for b in range {
                    let t = tensors[owner[b]], start = (b - firstBlock[owner[b]]) * block
                    let x = t.values + start, n = min(block, t.count - start)
                    var s = Float8()
                    for k in stride(from: 0, to: n, by: 8) {
                        let v = k + 8 <= n ? x.load8(k) : VectorMath.loadPartial(x + k, n - k)
                        s += v * v
                    }
                    sums[b] = VectorMath.horizontalSum(s)
                }
            }
        }
        var total: Float = 0
        for (i, t) in tensors.enumerated() {
            var tensorTotal: Float = 0
            for b in firstBlock[i]..<(firstBlock[i] + (t.count + block - 1) / block) { tensorTotal += sums[b] }
            total += tensorTotal
        }
        return total
    }
}
