/// GEMM family: the linear layers, and the batched/strided products of unfused attention.
public protocol GemmOps {
    /// `C[b] = α·op(A[b])·op(B[b]) + β·C[b] (+ bias)` for b in 0..<batchCount; see `GemmParameters`.
    /// A, B, C, bias: float32 tensors of any shape, addressed as flat arrays.
    func gemm(_ p: GemmParameters, a: Tensor, b: Tensor, c: Tensor, bias: Tensor?) throws
}
