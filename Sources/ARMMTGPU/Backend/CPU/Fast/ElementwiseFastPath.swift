import CAVX512

/// Float fast path of bias + activation for the CPU backend: eight columns at a time with
/// `VectorMath`'s exp and normal CDF, rows split over cores. Same math as
/// `ElementwiseReference` (which stays the Double reference): GELU(u) = u·Φ(u) exactly (erf
/// form), GELU'(u) = Φ(u) + u·φ(u); ReLU(u) = u > 0 ? u : 0 (NaN → 0), ReLU'(u) = u > 0 ? 1 : 0.
/// y may alias x and dx may alias dy (each element is read before it is written). GELU runs in
/// `CAVX512` under the AVX-512 unit, with the same operations lane for lane (the same bits).
enum ElementwiseFastPath {
    /// Elementwise work per value, in the units of `CPUParallel.minParallelWork`.
    static func workPerValue(_ a: BiasActivation) -> Int { a == .gelu ? 40 : 2 }

    @inline(__always) static func activation(_ a: BiasActivation, _ u: Float8) -> Float8 {
        switch a {
        case .relu: return Float8().replacing(with: u, where: u .> 0)
        case .gelu: return u * VectorMath.normalCDF(u)
        }
    }

    @inline(__always) static func derivative(_ a: BiasActivation, _ u: Float8) -> Float8 {
        switch a {
        case .relu: return Float8().replacing(with: 1, where: u .> 0)
        case .gelu: return VectorMath.fma(u, VectorMath.normalPDF(u), VectorMath.normalCDF(u))
        }
    }

    static func forward(_ p: BiasActivationParameters, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, parallel: Bool) {
        let cols = p.cols, act = p.activation
        guard p.rows > 0, cols > 0 else { return }
        // Without a bias the rows are one flat vector: split it into pseudo-rows of 1024.
        let rows = bias == nil ? (p.rows * cols + 1023) / 1024 : p.rows
        let width = bias == nil ? 1024 : cols
        let total = p.rows * cols
        let wide = act == .gelu && CPUVectorUnit.current == .avx512
        CPUParallel.forEachRange(rows, workPerItem: width * workPerValue(act), parallel: parallel) { range in
            if wide {
                if bias == nil {
                    let start = range.lowerBound * width, end = min(range.upperBound * width, total)
                    armmt_avx512_bias_gelu_forward(1, end - start, x + start, nil, y + start)
                } else {
                    let start = range.lowerBound * cols
                    armmt_avx512_bias_gelu_forward(range.count, cols, x + start, bias, y + start)
                }
                return
            }
            for i in range {
                let start = i * width, n = min(width, total - start)
                let xr = x + start, yr = y + start
                var j = 0
                while j + 8 <= n {
                    var u = xr.load8(j)
                    if let bias { u += bias.load8(j) }
                    yr.store8(activation(act, u), j)
                    j += 8
                }
                if j < n {
                    var u = VectorMath.loadPartial(xr + j, n - j)
                    if let bias { u += VectorMath.loadPartial(bias + j, n - j) }
                    VectorMath.storePartial(activation(act, u), yr + j, n - j)
                }
            }
        }
    }

    /// dx = dy ⊙ f'(x + bias); dBias = Σ_rows dx, summed by `CPUParallel.reduceRows` in a fixed
    /// order (bit-identical run to run).
    static func backward(_ p: BiasActivationParameters, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                         parallel: Bool) {
        let cols = p.cols, act = p.activation
        let wide = act == .gelu && CPUVectorUnit.current == .avx512
        func rowsBody(_ range: Range<Int>, _ partial: UnsafeMutablePointer<Float>?) {
            if wide {
                let start = range.lowerBound * cols
                armmt_avx512_bias_gelu_backward(range.count, cols, dy + start, x + start, bias, dx + start, partial)
                return
            }
            for i in range {
                let xr = x + i * cols, gr = dy + i * cols, dxr = dx + i * cols
                var j = 0
                while j + 8 <= cols {
                    var u = xr.load8(j)
                    if let bias { u += bias.load8(j) }
                    let g = gr.load8(j) * derivative(act, u)
                    dxr.store8(g, j)
                    if let partial { partial.store8(partial.load8(j) + g, j) }
                    j += 8
                }
                if j < cols {
                    let n = cols - j
                    var u = VectorMath.loadPartial(xr + j, n)
                    if let bias { u += VectorMath.loadPartial(bias + j, n) }
                    let g = VectorMath.loadPartial(gr + j, n) * derivative(act, u)
                    VectorMath.storePartial(g, dxr + j, n)
                    if let partial { for l in 0..<n { partial[j + l] += g[l] } }
                }
            }
        }
        guard cols > 0 else { return }
        let work = cols * (workPerValue(act) + 1)
        if let dBias {
            CPUParallel.reduceRows(p.rows, workPerRow: work, width: cols, into: dBias, parallel: parallel) { range, partial in
                rowsBody(range, partial)
            }
        } else {
            CPUParallel.forEachRange(p.rows, workPerItem: work, parallel: parallel) { rowsBody($0, nil) }
        }
    }
}
