/// OpenCL C sources of every kernel family, embedded at build time (`.embedInCode`),
/// so a copied binary never looks for `.cl` files on disk.
///
/// One `.cl` file per kernel family (CLBlast's layout); each is compiled after
/// `common.cl` and a host-generated `#define` preamble.
public enum KernelSources {
    /// Helpers shared by every family.
    public static let common = text(PackageResources.common_cl)
    /// Bandwidth and FMA probes for the benchmarks (not in `all`: no model op uses them).
    public static let probe = text(PackageResources.probe_cl)

    public static let gemm = text(PackageResources.gemm_cl)
    public static let copy = text(PackageResources.copy_cl)
    public static let colred = text(PackageResources.colred_cl)
    public static let embedding = text(PackageResources.embedding_cl)
    public static let loss = text(PackageResources.loss_cl)
    public static let optimizer = text(PackageResources.optimizer_cl)
    public static let attention = text(PackageResources.attention_cl)
    public static let layernorm = text(PackageResources.layernorm_cl)
    public static let elementwise = text(PackageResources.elementwise_cl)
    public static let cafu = text(PackageResources.cafu_cl)
    public static let softmax = text(PackageResources.softmax_cl)

    /// Every model-op family by name, for the compile-all check.
    public static var all: [(name: String, source: String)] {
        [
            ("gemm", gemm),
            ("copy", copy),
            ("colred", colred),
            ("embedding", embedding),
            ("loss", loss),
            ("optimizer", optimizer),
            ("attention", attention),
            ("layernorm", layernorm),
            ("elementwise", elementwise),
            ("cafu", cafu),
            ("softmax", softmax),
        ]
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
