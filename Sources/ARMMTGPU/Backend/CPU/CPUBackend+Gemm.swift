import CAVX512
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

/// The CPU backend's GEMM: pieces of one product, each on one thread (`PieceKernel`: the
/// AVX-512 kernel or OpenBLAS), spread over cores by `CPUParallel`.
///
/// OpenBLAS's own thread pool spins (`sched_yield`) between calls; with the Swift fast paths
/// running on Dispatch's threads between the GEMMs of a step, the two pools fought over the
/// cores. So OpenBLAS runs single-threaded (`CPUBackend.init`) and a large GEMM is cut here
/// into independent pieces whose boundaries depend on the shape only:
/// - many rows (`m ≥ 2·rowChunk`): row blocks of `rowChunk` rows; each C element is the same
///   dot product the kernel computes unsplit;
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
        let avx512 = PieceKernel.avx512Applies(p)
        guard avx512 && p.transB else {
            runPieces(p, a: a, kernel: PieceKernel(b: b, ldb: p.ldb, transB: p.transB, avx512: avx512), c: c, bias: bias,
                      scratch: scratch, parallel: parallel)
            return
        }
        // The register-tiled kernel reads B row-major: B [n, k] (a Linear weight) is transposed
        // once per call, k·n floats against the m·n·k multiply-adds.
        scratch.withBuffers([p.k * p.n]) { buffers in
            let bt = buffers[0]
            BlockGemm.transpose(b, rows: p.n, columns: p.k, ld: p.ldb, into: bt)
            runPieces(p, a: a, kernel: PieceKernel(b: bt, ldb: p.n, transB: false, avx512: true), c: c, bias: bias,
                      scratch: scratch, parallel: parallel)
        }
    }

    private static func runPieces(_ p: GemmParameters, a: UnsafePointer<Float>, kernel: PieceKernel, c: UnsafeMutablePointer<Float>,
                                  bias: UnsafePointer<Float>?, scratch: CPUScratchPool, parallel: Bool) {
        if p.m >= 2 * rowChunk {
            let pieces = (p.m + rowChunk - 1) / rowChunk
            CPUParallel.forEachRange(pieces, workPerItem: rowChunk * p.n * p.k, parallel: parallel) { range in
                for piece in range {
                    let r0 = piece * rowChunk, rows = min(p.m, r0 + rowChunk) - r0
                    // Row r of op(A) starts at r·lda (untransposed) or is column r (transposed).
                    let aPiece = p.transA ? a + r0 : a + r0 * p.lda
                    kernel.multiply(p, m: rows, k: p.k, a: aPiece, bRow: 0, beta: p.beta, bias: bias, c: c + r0 * p.ldc, ldc: p.ldc)
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
                        kernel.multiply(p, m: p.m, k: depth, a: aPiece, bRow: l0, beta: 0, bias: nil,
                                        c: partials + piece * size, ldc: p.n)
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
            addBias(bias, m: p.m, n: p.n, c: c, ldc: p.ldc)
        } else {
            kernel.multiply(p, m: p.m, k: p.k, a: a, bRow: 0, beta: p.beta, bias: bias, c: c, ldc: p.ldc)
        }
    }

    @inline(__always)
    static func addBias(_ bias: UnsafePointer<Float>?, m: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let bias else { return }
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] += bias[j] }
        }
    }
}

/// Who multiplies one piece of a `SplitGemm`: OpenBLAS, or on an AVX-512 host
/// (`CPUVectorUnit`) the register-tiled `armmt_avx512_gemm`. At the model's skinny shapes the
/// kernel measured 1.5–2.1× OpenBLAS's speed with OpenBLAS held to its AVX2 kernels, and as fast
/// or up to 1.4× faster than OpenBLAS's own AVX-512 kernels (BENCHMARKS.md). The two sum in
/// different orders: the bits differ between the units, never between runs on one host.
private struct PieceKernel {
    /// op(B): B itself, or (AVX-512) B row-major [k, n].
    let b: UnsafePointer<Float>
    let ldb: Int
    let transB: Bool
    let avx512: Bool

    /// The AVX-512 kernel computes C = A·B or C += A·B, nothing scaled.
    static func avx512Applies(_ p: GemmParameters) -> Bool {
        CPUVectorUnit.current == .avx512 && p.alpha == 1 && (p.beta == 0 || p.beta == 1)
    }

    /// C [m, n] = α·op(A)·op(B)[bRow ..< bRow + k, :] + β·C (+ bias on every row).
    @inline(__always)
    func multiply(_ p: GemmParameters, m: Int, k: Int, a: UnsafePointer<Float>, bRow: Int, beta: Float,
                  bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if avx512 {
            let (lda, acs) = p.transA ? (1, p.lda) : (p.lda, 1), bPiece = b + bRow * ldb
            switch (beta == 0, bias) {
            case (true, nil): armmt_avx512_gemm(m, p.n, k, a, lda, acs, bPiece, ldb, c, ldc)
            // The chains start from the bias: no second pass over C.
            case (true, let bias?): armmt_avx512_gemm_bias(m, p.n, k, a, lda, acs, bPiece, ldb, bias, c, ldc)
            case (false, _):
                armmt_avx512_gemm_add(m, p.n, k, a, lda, acs, bPiece, ldb, c, ldc)
                SplitGemm.addBias(bias, m: m, n: p.n, c: c, ldc: ldc)
            }
        } else {
            // Reduction row l of op(B) is row l (untransposed) or column l (transposed).
            let bPiece = transB ? b + bRow : b + bRow * ldb
            Float.blasGemm(transA: p.transA, transB: transB, m: m, n: p.n, k: k, alpha: p.alpha,
                           a: a, lda: p.lda, b: bPiece, ldb: ldb, beta: beta, c: c, ldc: ldc)
            SplitGemm.addBias(bias, m: m, n: p.n, c: c, ldc: ldc)
        }
    }
}
