import Kernels

extension OpenCLBackend: SoftmaxOps {
    public func maskedSoftmaxForward(_ p: MaskedSoftmaxParameters, x: Tensor, keyMask: Tensor?, y: Tensor) throws {
        try p.validate(x: x, keyMask: keyMask, y: y)
        let bx = try buffer(x, "softmax x"), by = try buffer(y, "softmax y")
        let bm = try keyMask.map { try buffer($0, "softmax key mask") }
        guard p.rows > 0 else { return }
        let wg = tuning.softmaxGroupSize
        let lanes = Self.softmaxLanes(length: p.length, groupSize: wg)
        let rowsPerGroup = wg / lanes
        let groups = (p.rows + rowsPerGroup - 1) / rowsPerGroup
        try kernel("softmax_masked_rows", family: "softmax", source: KernelSources.softmax).launch(
            [.int(Int32(p.rows)), .int(Int32(p.length)), .int(Int32(max(p.rowsPerBatch, 1))), .int(Int32(lanes)),
             .int(bm == nil ? 0 : 1), .float(p.scale),
             // Without a mask the kernel never reads it; x stands in as a valid handle.
             .buffer(bx), .buffer(bm ?? bx), .buffer(by)],
            global: [groups * wg], local: [wg])
    }

    /// Work-items per row: about two columns each (short attention rows keep several rows per
    /// group busy), a power of two, at most the group size (longer rows loop).
    static func softmaxLanes(length: Int, groupSize: Int) -> Int {
        var lanes = 1
        while lanes < groupSize && 2 * lanes < length { lanes *= 2 }
        return lanes
    }
}
