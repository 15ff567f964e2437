import COpenBLAS

extension CPUBackend {
    public func gemm(_ p: GemmParameters, a: Tensor, b: Tensor, c: Tensor, bias: Tensor?) throws {
        try p.validate(aCount: a.count, bCount: b.count, cCount: c.count, biasCount: bias?.count)
        let pa = try host(a, "gemm A"), pb = try host(b, "gemm B"), pc = try host(c, "gemm C")
        let pbias = try bias.map { try host($0, "gemm bias") }
        guard p.batchCount == 1, p.k > 0, p.m > 0, p.n > 0 else {
            GemmReference.run(p, a: pa, b: pb, c: pc, bias: pbias.map { UnsafePointer($0) })
            return
        }
        SplitGemm.run(p, a: pa, b: pb, c: pc, bias: pbias.map { UnsafePointer($0) }, scratch: scratch, parallel: parallel)
    }
}

/// The CPU backend's GEMM: OpenBLAS on one thread per call, the calls spread over cores by
/// `CPUParallel`.
///
/// OpenBLAS's own thread pool spins (`sched_yield`) between calls; with the Swift fast paths
/// running on Dispatch's threads between the GEMMs of a step, the two pools fought over the
/// cores. So OpenBLAS runs single-threaded (`CPUBackend.init`) and a large GEMM is cut here
/// into independent pieces whose boundaries depend on the shape only:
/// - many rows (`m ≥ 2·rowChunk`): row blocks of `rowChunk` rows; each C element is the same
///   dot product OpenBLAS computes unsplit;
/// - few rows and columns but a long reduction (`k ≥ 2·depthChunk`, the weight gradients
///   `dyᵀ·x` over every row of the batch): `depthChunk`-deep partial products, summed in chunk
///   order into C (`C = β·C + Σ_chunks α·A_c·B_c`);
/// - anything else: one call.
/// Serial (`parallel: false`) runs the same pieces in order, so the bits do not depend on the
/// thread count.
enum SplitGemm {
    static let rowChunk = 1024
    static let depthChunk = 2048
    /// Largest `m·n` split by depth: the partials stay a few hundred KB.
    static let maxDepthSplitOutputs = 64 * 1024

    static func run(_ p: GemmParameters, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                    bias: UnsafePointer<Float>?, scratch: CPUScratchPool, parallel: Bool) {
        let a = a + p.offsetA, b = b + p.offsetB, c = c + p.offsetC, bias = bias.map { $0 + p.offsetBias }
        if p.m >= 2 * rowChunk {
            let pieces = (p.m + rowChunk - 1) / rowChunk
            CPUParallel.forEachRange(pieces, workPerItem: rowChunk * p.n * p.k, parallel: parallel) { range in
                for piece in range {
                    let r0 = piece * rowChunk, rows = min(p.m, r0 + rowChunk) - r0
                    // Row r of op(A) starts at r·lda (untransposed) or is column r (transposed).
                    let aPiece = p.transA ? a + r0 : a + r0 * p.lda
                    Float.blasGemm(transA: p.transA, transB: p.transB, m: rows, n: p.n, k: p.k, alpha: p.alpha,
                                   a: aPiece, lda: p.lda, b: b, ldb: p.ldb, beta: p.beta, c: c + r0 * p.ldc, ldc: p.ldc)
                    addBias(bias, rows: r0..<(r0 + rows), p, c)
                }
            }
        } else if p.k >= 2 * depthChunk && p.m * p.n <= maxDepthSplitOutputs {
            let pieces = (p.k + depthChunk - 1) / depthChunk, size = p.m * p.n
            scratch.withBuffers([pieces * size]) { buffers in
                let partials = buffers[0]
                CPUParallel.forEachRange(pieces, workPerItem: depthChunk * size, parallel: parallel) { range in
                    for piece in range {
                        let l0 = piece * depthChunk, depth = min(p.k, l0 + depthChunk) - l0
                        // Reduction index l of op(A) is column l (untransposed) or row l (transposed).
                        let aPiece = p.transA ? a + l0 * p.lda : a + l0
                        let bPiece = p.transB ? b + l0 : b + l0 * p.ldb
                        Float.blasGemm(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: depth, alpha: p.alpha,
                                       a: aPiece, lda: p.lda, b: bPiece, ldb: p.ldb, beta: 0, c: partials + piece * size, ldc: p.n)
                    }
                }
                for i in 0..<p.m {
                    let row = c + i * p.ldc
                    for j in 0..<p.n {
                        var s: Float = p.beta == 0 ? 0 : p.beta * row[j]
                        for piece in 0..<pieces { s += partials[piece * size + i * p.n + j] }
                        row[j] = s
                    }
                }
            }
            addBias(bias, rows: 0..<p.m, p, c)
        } else {
            Float.blasGemm(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k, alpha: p.alpha,
                           a: a, lda: p.lda, b: b, ldb: p.ldb, beta: p.beta, c: c, ldc: p.ldc)
            addBias(bias, rows: 0..<p.m, p, c)
        }
    }

    @inline(__always)
    private static func addBias(_ bias: UnsafePointer<Float>?, rows: Range<Int>, _ p: GemmParameters, _ c: UnsafeMutablePointer<Float>) {
        guard let bias else { return }
        for i in rows {
            let row = c + i * p.ldc
            for j in 0..<p.n { row[j] += bias[j] }
        }
    }
}
