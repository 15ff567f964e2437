import Kernels

extension OpenCLBackend {
    public func gemm(_ p: GemmParameters, a: Tensor, b: Tensor, c: Tensor, bias: Tensor?) throws {
        try p.validate(aCount: a.count, bCount: b.count, cCount: c.count, biasCount: bias?.count)
        let ba = try buffer(a, "gemm A"), bb = try buffer(b, "gemm B"), bc = try buffer(c, "gemm C")
        let bbias = try bias.map { try buffer($0, "gemm bias") }
        guard p.m > 0, p.n > 0 else { return }
        let transposes = (p.transA ? "t" : "n") + (p.transB ? "t" : "n")
        let local = tuning.gemm.localSize
        let groupsN = (p.n + tuning.gemm.tileN - 1) / tuning.gemm.tileN
        let groupsM = (p.m + tuning.gemm.tileM - 1) / tuning.gemm.tileM
        let split = GemmSplitPlan(p, tiling: tuning.gemm, computeUnits: tuning.gemmSplitUnits)
        guard split.isSplit else {
            let k = try kernel("gemm_" + transposes, family: "gemm", source: KernelSources.gemm)
            try k.launch([
                .int(Int32(p.m)), .int(Int32(p.n)), .int(Int32(p.k)), .float(p.alpha),
                .buffer(ba), .int(Int32(p.offsetA)), .int(Int32(p.lda)), .int(Int32(p.strideA)),
                .buffer(bb), .int(Int32(p.offsetB)), .int(Int32(p.ldb)), .int(Int32(p.strideB)),
                .float(p.beta), .buffer(bc), .int(Int32(p.offsetC)), .int(Int32(p.ldc)), .int(Int32(p.strideC)),
                // Without a bias the kernel never dereferences it; C stands in as a valid handle.
                .buffer(bbias ?? bc), .int(Int32(p.offsetBias)), .int(bbias == nil ? 0 : 1),
            ], global: [groupsN * local[0], groupsM * local[1], p.batchCount], local: local)
            return
        }
        let partials = try scratch("gemm split partials", byteCount: split.slices * p.m * p.n * 4)
        let ks = try kernel("gemm_split_" + transposes, family: "gemm", source: KernelSources.gemm)
        try ks.launch([
            .int(Int32(p.m)), .int(Int32(p.n)), .int(Int32(p.k)), .int(Int32(split.sliceLength)),
            .buffer(ba), .int(Int32(p.offsetA)), .int(Int32(p.lda)),
            .buffer(bb), .int(Int32(p.offsetB)), .int(Int32(p.ldb)), .buffer(partials),
        ], global: [groupsN * local[0], groupsM * local[1], split.slices], local: local)
        let sum = try kernel("gemm_split_sum", family: "gemm", source: KernelSources.gemm)
        try sum.launch([
            .int(Int32(p.m)), .int(Int32(p.n)), .int(Int32(split.slices)), .float(p.alpha), .buffer(partials),
            .float(p.beta), .buffer(bc), .int(Int32(p.offsetC)), .int(Int32(p.ldc)),
            .buffer(bbias ?? bc), .int(Int32(p.offsetBias)), .int(bbias == nil ? 0 : 1),
        ], global: [p.n, p.m, 1], local: local)
    }
}
