/// OpenCL C sources of every kernel family, embedded at build time (`.embedInCode`),
/// so a copied binary never looks for `.cl` files on disk.
///
/// One `.cl` file per kernel family (CLBlast's layout); each is compiled after
/// `common.cl` and a host-generated `#define` preamble.
public enum KernelSources {
    /// Helpers shared by every family (index types, the poison-safe reductions).
    public static let common = text(PackageResources.common_cl)
    public static let gemm = text(PackageResources.gemm_cl)
    public static let layernorm = text(PackageResources.layernorm_cl)
    public static let elementwise = text(PackageResources.elementwise_cl)
    public static let cafu = text(PackageResources.cafu_cl)

    /// Every family by name, for the compile-all check and `info`.
    public static var all: [(name: String, source: String)] {
        [("gemm", gemm), ("layernorm", layernorm), ("elementwise", elementwise), ("cafu", cafu)]
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
