import COpenBLAS
import Foundation

/// The vectors the CPU backend's fast paths run in: the AVX-512 kernels of `CAVX512` (the
/// backend's GEMMs, attention's softmax steps, CAFU's row loops, bias + GELU) when the CPU and the
/// OS support AVX-512, else the Swift loops in AVX2 and OpenBLAS. Attention and GELU give the same
/// bits either way (same FMA chains, same exp, log and Φ); the GEMMs, CAFU's included, sum in
/// another order than OpenBLAS, so their bits differ between the two (`BlockGemm`, `SplitGemm`).
public enum CPUVectorUnit: String, Sendable {
    case avx512 = "AVX-512"
    case avx2 = "AVX2"

    /// Whether this CPU and its OS support AVX-512 (CPUID + XGETBV, asked once): the one answer the
    /// fast paths, the FMA probe and `info`'s OpenBLAS note all use.
    public static let hostHasAVX512 = armmt_cpu_has_avx512_skx() != 0

    /// The unit in use: AVX-512 where the host has it, unless `ARMMT_CPU_VECTORS=avx2` asks for
    /// the Swift loops (to compare the two, or to rule the AVX-512 kernels out when diagnosing).
    /// Tests set it to run both paths on one host.
    nonisolated(unsafe) public static var current: CPUVectorUnit = defaultUnit

    public static let defaultUnit: CPUVectorUnit = {
        guard hostHasAVX512 else { return .avx2 }
        return ProcessInfo.processInfo.environment["ARMMT_CPU_VECTORS"]?.lowercased() == "avx2" ? .avx2 : .avx512
    }()

    /// Why `current` is what it is, for `info`.
    public static var choice: String {
        if current == .avx512 { return "AVX-512 for GEMMs, attention, CAFU and GELU (the host has AVX-512), AVX2 elsewhere" }
        if hostHasAVX512 { return "AVX2 (AVX-512 turned off: ARMMT_CPU_VECTORS=avx2)" }
        return "AVX2 (the host has no AVX-512)"
    }

    /// Runs `body` with `unit` in use, then restores the previous one (tests; not thread-safe).
    public static func with<T>(_ unit: CPUVectorUnit, _ body: () throws -> T) rethrows -> T {
        let saved = current
        current = unit
        defer { current = saved }
        return try body()
    }
}
