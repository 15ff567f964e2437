/// How the OpenCL GEMM splits the reduction of a product whose C has fewer tiles than the device
/// has compute units: a weight gradient such as `64 × 384 × 20992` is 6 tiles of 64 × 64, so
/// without a split 6 work-groups would run it on a GPU of 132 compute units. Each of `slices`
/// work-groups per tile reduces `sliceLength` consecutive k (the last one the rest) into its
/// own `[m, n]` partial; a second kernel adds the partials in slice order, then applies α, β and
/// the bias. The plan depends only on the sizes, the tiling and the device's compute units,
/// never on timing, so a device gives the same bits from run to run.
struct GemmSplitPlan: Equatable {
    let slices: Int
    let sliceLength: Int

    /// Fewest k per slice, so a slice's work-group runs long enough to pay for its partial's
    /// write and read.
    static let minimumSliceLength = 256
    /// Most partial floats (128 MiB), so a split never needs an outsized workspace.
    static let maximumPartialFloats = 32 << 20

    init(slices: Int, sliceLength: Int) {
        (self.slices, self.sliceLength) = (slices, sliceLength)
    }

    /// `computeUnits` is `DeviceTuning.gemmSplitUnits`: the device's count unless
    /// `ARMMT_OPENCL_GEMM_SPLIT` set another; with 0 or 1 nothing splits.
    init(_ p: GemmParameters, tiling: GemmTiling, computeUnits: Int) {
        let tiles = ((p.m + tiling.tileM - 1) / tiling.tileM) * ((p.n + tiling.tileN - 1) / tiling.tileN)
        // Batched products (attention heads) have their batch to spread; only single ones split.
        guard p.batchCount == 1, p.m > 0, p.n > 0, tiles < computeUnits else {
            (slices, sliceLength) = (1, p.k)
            return
        }
        // Two work-groups per compute unit, as far as the reduction and the workspace allow.
        let wanted = (2 * computeUnits + tiles - 1) / tiles
        let most = min(wanted, p.k / Self.minimumSliceLength, Self.maximumPartialFloats / (p.m * p.n))
        guard most >= 2 else {
            (slices, sliceLength) = (1, p.k)
            return
        }
        // Slices start on a reduction step of the tile, so only the last one ends inside one.
        let steps = (p.k + tiling.tileK - 1) / tiling.tileK
        let length = ((steps + most - 1) / most) * tiling.tileK
        (slices, sliceLength) = ((p.k + length - 1) / length, length)
    }

    var isSplit: Bool { slices > 1 }
}
