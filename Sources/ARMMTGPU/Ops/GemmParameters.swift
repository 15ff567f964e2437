/// A strided, batched, row-major GEMM:
/// `C[b] = α·op(A[b])·op(B[b]) + β·C[b] + bias` for `b` in `0..<batchCount`, where
/// `op(A)` is `[m, k]`, `op(B)` is `[k, n]`, `C` is `[m, n]`, and `bias` (optional, `[n]`)
/// is added to every row.
///
/// Storage (elements, not bytes): `A[b]` starts at `offsetA + b·strideA` and holds
/// `[m, k]` (or `[k, m]` when `transA`) with row stride `lda`; likewise B with `[k, n]` /
/// `[n, k]`, and C with `[m, n]` and `ldc`. With `β = 0`, C is written without being read
/// (BLAS semantics: garbage or NaN in C does not leak into the result).
public struct GemmParameters: Equatable, Sendable {
    public var transA = false
    public var transB = false
    public var m: Int
    public var n: Int
    public var k: Int
    public var alpha: Float = 1
    public var beta: Float = 0
    public var lda: Int
    public var ldb: Int
    public var ldc: Int
    public var offsetA = 0
    public var offsetB = 0
    public var offsetC = 0
    public var offsetBias = 0
    public var batchCount = 1
    public var strideA = 0
    public var strideB = 0
    public var strideC = 0

    /// Tightly packed operands (leading dimension = stored row length), one batch.
    public init(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                alpha: Float = 1, beta: Float = 0) {
        self.m = m
        self.n = n
        self.k = k
        self.transA = transA
        self.transB = transB
        self.alpha = alpha
        self.beta = beta
        lda = max(1, transA ? m : k)
        ldb = max(1, transB ? k : n)
        ldc = max(1, n)
    }

    var storedA: (rows: Int, cols: Int) { transA ? (k, m) : (m, k) }
    var storedB: (rows: Int, cols: Int) { transB ? (n, k) : (k, n) }

    /// Checks that every element the GEMM touches lies inside the given tensors.
    public func validate(aCount: Int, bCount: Int, cCount: Int, biasCount: Int?) throws {
        func fail(_ what: String) -> EngineError { .usage("gemm m=\(m) n=\(n) k=\(k) batch=\(batchCount): \(what)") }
        guard m >= 0, n >= 0, k >= 0, batchCount >= 1 else { throw fail("sizes must be non-negative and batchCount ≥ 1") }
        guard offsetA >= 0, offsetB >= 0, offsetC >= 0, offsetBias >= 0, strideA >= 0, strideB >= 0, strideC >= 0
        else { throw fail("offsets and strides must be non-negative") }
        let (ar, ac) = storedA, (br, bc) = storedB
        guard lda >= max(1, ac) else { throw fail("lda \(lda) < \(ac)") }
        guard ldb >= max(1, bc) else { throw fail("ldb \(ldb) < \(bc)") }
        guard ldc >= max(1, n) else { throw fail("ldc \(ldc) < \(n)") }
        func extent(_ offset: Int, _ stride: Int, _ rows: Int, _ cols: Int, _ ld: Int) -> Int {
            rows == 0 || cols == 0 ? 0 : offset + (batchCount - 1) * stride + (rows - 1) * ld + cols
        }
        let maxIndex = Int(Int32.max)
        let needA = extent(offsetA, strideA, ar, ac, lda)
        let needB = extent(offsetB, strideB, br, bc, ldb)
        let needC = extent(offsetC, strideC, m, n, ldc)
        guard needA <= aCount else { throw fail("A needs \(needA) elements, tensor has \(aCount)") }
        guard needB <= bCount else { throw fail("B needs \(needB) elements, tensor has \(bCount)") }
        guard needC <= cCount else { throw fail("C needs \(needC) elements, tensor has \(cCount)") }
        if let biasCount, n > 0, offsetBias + n > biasCount {
            throw fail("bias needs \(offsetBias + n) elements, tensor has \(biasCount)")
        }
        guard needA <= maxIndex, needB <= maxIndex, needC <= maxIndex else { throw fail("operands beyond 2^31 elements") }
    }

    /// Floating-point operations (a multiply-add counts 2).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(batchCount) }
}
