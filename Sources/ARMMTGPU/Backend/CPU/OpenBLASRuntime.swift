import COpenBLAS
import Foundation

/// Process-wide OpenBLAS set-up, applied once when the first `CPUBackend` is made (through its
/// `blas` property) or `info` runs, and what they say about it.
enum OpenBLASRuntime {
    /// OpenBLAS runs one thread per call; `SplitGemm` spreads large GEMMs over the cores, in
    /// shape-fixed pieces, so results do not depend on the thread count.
    static func configure() { _ = singleThreaded }

    private static let singleThreaded: Void = openblas_set_num_threads(1)

    static func currentCore() -> String { String(cString: openblas_get_corename()) }

    /// Who chose OpenBLAS's kernel table. `OPENBLAS_CORETYPE` overrides OpenBLAS's own CPU
    /// detection at load time; pinned to an AVX2 table on an AVX-512 CPU it slows SGEMM 1.6–2.0×
    /// (measured in BENCHMARKS.md), which a user reading a benchmark should be told.
    static let coreChoice: String = {
        guard let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !forced.isEmpty else {
            return "OpenBLAS's own choice"
        }
        let tablesWithoutAVX512: Set<String> = ["haswell", "zen", "sandybridge"]
        if tablesWithoutAVX512.contains(currentCore().lowercased()), CPUVectorUnit.hostHasAVX512 {
            return "set by OPENBLAS_CORETYPE=\(forced); this CPU has AVX-512, which OpenBLAS would use without it"
        }
        return "set by OPENBLAS_CORETYPE=\(forced)"
    }()
}
