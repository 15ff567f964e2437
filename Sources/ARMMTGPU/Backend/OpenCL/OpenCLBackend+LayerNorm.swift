import Kernels

extension OpenCLBackend: LayerNormOps {
    /// Work-items per row: a power of two near d/4 (each work-item then handles about four
    /// features), at most a whole group.
    func layerNormThreadsPerRow(_ d: Int) -> Int {
        var t = 1
        while t < (d + 3) / 4 && t < tuning.layerNormGroupSize { t *= 2 }
        return t
    }

    public func layerNormForward(_ p: LayerNormParameters, x: Tensor, gamma: Tensor, beta: Tensor,
                                 y: Tensor, mean: Tensor, rstd: Tensor) throws {
        try p.validateForward(x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd)
        let bx = try buffer(x, "layernorm x"), bg = try buffer(gamma, "layernorm gamma")
        let bb = try buffer(beta, "layernorm beta"), by = try buffer(y, "layernorm y")
        let bm = try buffer(mean, "layernorm mean"), br = try buffer(rstd, "layernorm rstd")
        guard p.rows > 0 else { return }
        let tpr = layerNormThreadsPerRow(p.features)
        let wg = tuning.layerNormGroupSize
        let groups = (p.rows + wg / tpr - 1) / (wg / tpr)
        let k = try kernel("layernorm_forward", family: "layernorm", source: KernelSources.layernorm)
        try k.launch([.int(Int32(p.rows)), .int(Int32(p.features)), .int(Int32(tpr)), .float(p.epsilon),
                      .buffer(bx), .buffer(bg), .buffer(bb), .buffer(by), .buffer(bm), .buffer(br)],
                     global: [groups * wg], local: [wg])
    }

    public func layerNormBackward(_ p: LayerNormParameters, dy: Tensor, x: Tensor, gamma: Tensor,
                                  mean: Tensor, rstd: Tensor, dx: Tensor, dGamma: Tensor, dBeta: Tensor) throws {
        try p.validateBackward(dy: dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, dGamma: dGamma, dBeta: dBeta)
        let bdy = try buffer(dy, "layernorm dy"), bx = try buffer(x, "layernorm x")
        let bg = try buffer(gamma, "layernorm gamma"), bm = try buffer(mean, "layernorm mean")
        let br = try buffer(rstd, "layernorm rstd"), bdx = try buffer(dx, "layernorm dx")
        let bdg = try buffer(dGamma, "layernorm dGamma"), bdb = try buffer(dBeta, "layernorm dBeta")
        let d = p.features
        guard p.rows > 0 else {
            try fill(dGamma, with: 0)
            try fill(dBeta, with: 0)
            return
        }
        // Parameter gradients first: they read dy, which dx may overwrite.
        let plan = ColumnReducePlan(rows: p.rows, tuning: tuning)
        let partialG = try scratch("layernorm dgamma partials", byteCount: plan.blocks * d * 4)
        let partialB = try scratch("layernorm dbeta partials", byteCount: plan.blocks * d * 4)
        let local = ColumnReducePlan.local(tuning)
        let kp = try kernel("layernorm_backward_params_partial", family: "layernorm", source: KernelSources.layernorm)
        try kp.launch([.int(Int32(p.rows)), .int(Int32(d)), .int(Int32(plan.rowsPerBlock)),
                       .buffer(bdy), .buffer(bx), .buffer(bm), .buffer(br), .buffer(partialG), .buffer(partialB)],
                      global: plan.global(cols: d, tuning: tuning), local: local)
        try plan.sumPartials(partialG, into: bdg, cols: d, on: self)
        try plan.sumPartials(partialB, into: bdb, cols: d, on: self)

        let tpr = layerNormThreadsPerRow(d)
        let wg = tuning.layerNormGroupSize
        let groups = (p.rows + wg / tpr - 1) / (wg / tpr)
        let kd = try kernel("layernorm_backward_dx", family: "layernorm", source: KernelSources.layernorm)
        try kd.launch([.int(Int32(p.rows)), .int(Int32(d)), .int(Int32(tpr)),
                       .buffer(bdy), .buffer(bx), .buffer(bg), .buffer(bm), .buffer(br), .buffer(bdx)],
                      global: [groups * wg], local: [wg])
    }
}
