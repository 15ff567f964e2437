import Kernels

extension OpenCLBackend: AttentionOps {
    /// The compiled head-width variant for `dh`: the smallest of 16, 32, 64, 128 that holds it.
    static func attentionVariant(_ dh: Int) -> Int { dh <= 16 ? 16 : dh <= 32 ? 32 : dh <= 64 ? 64 : 128 }

    public func attentionForward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                                 out: Tensor, logSumExp: Tensor) throws {
        try p.validateForward(q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp)
        let args = try attentionArguments(p, q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp)
        let kern = try kernel("attention_forward_d\(Self.attentionVariant(p.headDim))", family: "attention",
                              source: KernelSources.attention)
        try kern.launch(args, global: attentionGrid(p, rows: p.queryLength), local: [tuning.attentionWorkGroup, 1, 1])
    }

    public func attentionBackward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                                  out: Tensor, logSumExp: Tensor, dOut: Tensor,
                                  dQ: Tensor, dK: Tensor, dV: Tensor) throws {
        try p.validateBackward(q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp,
                               dOut: dOut, dQ: dQ, dK: dK, dV: dV)
        let args = try attentionArguments(p, q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp)
        let bdo = try buffer(dOut, "attention dO"), bdq = try buffer(dQ, "attention dQ")
        let bdk = try buffer(dK, "attention dK"), bdv = try buffer(dV, "attention dV")
        let variant = Self.attentionVariant(p.headDim)
        let local = [tuning.attentionWorkGroup, 1, 1]
        // Two kernels with no shared output: dQ parallel over query blocks, dK/dV over key
        // blocks, each summing in a fixed order (no atomics, deterministic).
        let kq = try kernel("attention_backward_dq_d\(variant)", family: "attention", source: KernelSources.attention)
        try kq.launch(args + [.buffer(bdo), .buffer(bdq)], global: attentionGrid(p, rows: p.queryLength), local: local)
        let kkv = try kernel("attention_backward_dkv_d\(variant)", family: "attention", source: KernelSources.attention)
        try kkv.launch(args + [.buffer(bdo), .buffer(bdk), .buffer(bdv)],
                       global: attentionGrid(p, rows: p.keyLength), local: local)
    }

    /// One work-group per (block of `attentionQueryBlock` rows, head, sample).
    private func attentionGrid(_ p: AttentionParameters, rows: Int) -> [Int] {
        let blocks = (rows + tuning.attentionQueryBlock - 1) / tuning.attentionQueryBlock
        return [blocks * tuning.attentionWorkGroup, p.heads, p.batch]
    }

    /// The arguments every attention kernel starts with (`ATTN_ARGS` in attention.cl).
    private func attentionArguments(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                                    out: Tensor, logSumExp: Tensor) throws -> [OpenCLKernel.Argument] {
        let bq = try buffer(q, "attention Q"), bk = try buffer(k, "attention K"), bv = try buffer(v, "attention V")
        let bm = try keyMask.map { try buffer($0, "attention key mask") }
        let bo = try buffer(out, "attention O"), bl = try buffer(logSumExp, "attention logSumExp")
        return [
            .int(Int32(p.queryLength)), .int(Int32(p.keyLength)), .int(Int32(p.heads)), .int(Int32(p.headDim)),
            .float(p.scale),
            .buffer(bq), .int(Int32(p.qLayout.offset)), .int(Int32(p.rowStride(p.qLayout))),
            .buffer(bk), .int(Int32(p.kLayout.offset)), .int(Int32(p.rowStride(p.kLayout))),
            .buffer(bv), .int(Int32(p.vLayout.offset)), .int(Int32(p.rowStride(p.vLayout))),
            // Without a mask the kernels never dereference it; K stands in as a valid handle.
            .buffer(bm ?? bk), .int(bm == nil ? 0 : 1),
            .buffer(bo), .int(Int32(p.outLayout.offset)), .int(Int32(p.rowStride(p.outLayout))),
            .buffer(bl),
        ]
    }
}
