import Kernels

extension OpenCLBackend: CopyOps {
    /// Work-group of 64 columns × 4 rows: rows of a few dozen columns (the model's widths)
    /// still fill a warp, and the grid stays 2-D so no index division is needed.
    private var copyLocal: [Int] { [64, 4] }

    public func copyWindow(_ p: WindowCopy, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        let s = try buffer(src, "copyWindow source"), d = try buffer(dst, "copyWindow destination")
        guard p.rows > 0, p.cols > 0 else { return }
        let k = try kernel("copy_window", family: "copy", source: KernelSources.copy)
        try k.launch([.int(Int32(p.rows)), .int(Int32(p.cols)),
                      .buffer(s), .int(Int32(p.srcOffset)), .int(Int32(p.srcStride)),
                      .buffer(d), .int(Int32(p.dstOffset)), .int(Int32(p.dstStride)),
                      .int(Int32(p.repeatRows)), .int(p.accumulate ? 1 : 0), .float(p.scale)],
                     global: [p.cols, p.rows], local: copyLocal)
    }

    public func sumGroups(_ p: GroupSum, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        let s = try buffer(src, "sumGroups source"), d = try buffer(dst, "sumGroups destination")
        guard p.groups > 0, p.cols > 0 else { return }
        let k = try kernel("sum_groups", family: "copy", source: KernelSources.copy)
        try k.launch([.int(Int32(p.groups)), .int(Int32(p.groupSize)), .int(Int32(p.cols)),
                      .buffer(s), .int(Int32(p.srcOffset)), .int(Int32(p.srcStride)),
                      .buffer(d), .int(Int32(p.dstOffset)), .int(Int32(p.dstStride)),
                      .int(p.accumulate ? 1 : 0)],
                     global: [p.cols, p.groups], local: copyLocal)
    }
}
