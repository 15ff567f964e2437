import COpenBLAS
import Foundation

/// A float type OpenBLAS has a GEMM for: `Float` for the CPU backend, `Double` for the
/// reference that finite-difference checks and the self-test compare against.
public protocol BLASScalar: BinaryFloatingPoint {
    /// Row-major `cblas_?gemm`.
    static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                         a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                         beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

@inline(__always) private func trans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, trans(transA), trans(transB), blasint(m), blasint(n), blasint(k), alpha,
                    a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

extension Double: BLASScalar {
    public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                                a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                                beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, trans(transA), trans(transB), blasint(m), blasint(n), blasint(k), alpha,
                    a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

/// What `info` says about the CPU backend's BLAS.
public struct BLASInfo: Codable, Sendable {
    public var library: String
    public var config: String
    public var core: String
    /// Why this kernel table (see `OpenBLASRuntime`).
    public var coreChoice: String
    public var threads: Int

    /// The BLAS as the CPU backend uses it: `OpenBLASRuntime` is applied first.
    public static func current() -> BLASInfo {
        OpenBLASRuntime.configure()
        return BLASInfo(library: "OpenBLAS",
                        config: String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces),
                        core: OpenBLASRuntime.currentCore(),
                        coreChoice: OpenBLASRuntime.coreChoice,
                        threads: Int(openblas_get_num_threads()))
    }
}
