import Kernels

extension OpenCLBackend: CAFUOps {
    private func cafuKernel(_ name: String) throws -> OpenCLKernel {
        try kernel(name, family: "cafu", source: KernelSources.cafu)
    }

    /// Items per forward work-group and W2 rows staged per step, so that the local buffers fit
    /// the device (at most 48 KiB, the portable ceiling) and tile·H outputs fit the registers.
    func cafuForwardPlan(_ p: CAFUParameters) throws -> (tile: Int, gc: Int, local: [Int]) {
        let h = p.hidden, kc = tuning.cafuChunk, wg = tuning.cafuGroupSize
        let maxOutputs = wg * tuning.cafuMaxAccumulators
        guard h <= maxOutputs else {
            throw EngineError.usage("cafu hidden=\(h): the OpenCL kernel holds at most \(maxOutputs) hidden units (CAFU_WG·CAFU_ACC)")
        }
        let wsFloats = h * (kc + 1)
        let gc = max(1, wsFloats / (h + 1))
        func floats(_ tile: Int) -> [Int] {
            [tile * kc, wsFloats, tile * (h + 1), tile * p.gateRows, tile * (p.modalities + 1)]
        }
        let budget = min(Int(context.info.localMemoryBytes), 48 * 1024) - 512
        var tile = max(1, min(tuning.cafuMaxTile, maxOutputs / h, p.items))
        while tile > 1 && floats(tile).reduce(0, +) * 4 > budget { tile -= 1 }
        guard floats(tile).reduce(0, +) * 4 <= budget else {
            throw EngineError.usage("cafu d=\(p.width) hidden=\(h) gate=\(p.gate.rawValue): one item's working set exceeds the device's \(budget) bytes of local memory")
        }
        return (tile, gc, floats(tile).map { $0 * 4 })
    }

    public func cafuForward(_ p: CAFUParameters, x: Tensor, mask: Tensor, context ctx: Tensor, w1: Tensor, b1: Tensor,
                            w2: Tensor, b2: Tensor, r: Tensor, alpha: Tensor, hiddenPre: Tensor) throws {
        try p.validateForward(x: x, mask: mask, context: ctx, w1: w1, b1: b1, w2: w2, b2: b2, r: r, alpha: alpha,
                              hiddenPre: hiddenPre)
        let bx = try buffer(x, "cafu x"), bm = try buffer(mask, "cafu mask"), bc = try buffer(ctx, "cafu context")
        let bw1 = try buffer(w1, "cafu w1"), bb1 = try buffer(b1, "cafu b1"), bw2 = try buffer(w2, "cafu w2")
        let bb2 = try buffer(b2, "cafu b2"), br = try buffer(r, "cafu r"), ba = try buffer(alpha, "cafu alpha")
        let bh = try buffer(hiddenPre, "cafu hiddenPre")
        guard p.items > 0 else { return }
        let plan = try cafuForwardPlan(p)
        let groups = (p.items + plan.tile - 1) / plan.tile
        var args: [OpenCLKernel.Argument] = [
            .int(Int32(p.items)), .int(Int32(p.modalities)), .int(Int32(p.width)), .int(Int32(p.contextWidth)),
            .int(Int32(p.hidden)), .int(Int32(p.gateRows)), .int(Int32(p.gateWidth)), .int(Int32(plan.tile)),
            .int(Int32(plan.gc)),
            .buffer(bx), .buffer(bm), .buffer(bc), .buffer(bw1), .buffer(bb1), .buffer(bw2), .buffer(bb2),
            .buffer(br), .buffer(ba), .buffer(bh),
        ]
        args += plan.local.map { .local($0) }
        try cafuKernel("cafu_forward").launch(args, global: [groups * tuning.cafuGroupSize], local: [tuning.cafuGroupSize])
    }

    public func cafuBackward(_ p: CAFUParameters, dr: Tensor, dAlpha: Tensor?, x: Tensor, mask: Tensor, context ctx: Tensor,
                             w1: Tensor, w2: Tensor, alpha: Tensor, hiddenPre: Tensor,
                             dx: Tensor, dContext: Tensor, dW1: Tensor, db1: Tensor, dW2: Tensor, db2: Tensor) throws {
        try p.validateBackward(dr: dr, dAlpha: dAlpha, x: x, mask: mask, context: ctx, w1: w1, w2: w2, alpha: alpha,
                               hiddenPre: hiddenPre, dx: dx, dContext: dContext, dW1: dW1, db1: db1, dW2: dW2, db2: db2)
        let bdr = try buffer(dr, "cafu dr"), bda = try dAlpha.map { try buffer($0, "cafu dAlpha") }
        let bx = try buffer(x, "cafu x"), bm = try buffer(mask, "cafu mask"), bc = try buffer(ctx, "cafu context")
        _ = try buffer(w1, "cafu w1"); _ = try buffer(w2, "cafu w2")
        let ba = try buffer(alpha, "cafu alpha"), bh = try buffer(hiddenPre, "cafu hiddenPre")
        let bdx = try buffer(dx, "cafu dx"), bdc = try buffer(dContext, "cafu dContext")
        let bdw1 = try buffer(dW1, "cafu dW1"), bdb1 = try buffer(db1, "cafu db1")
        let bdw2 = try buffer(dW2, "cafu dW2"), bdb2 = try buffer(db2, "cafu db2")
        let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden
        let k = p.inputWidth, g = p.gateRows
        guard n > 0 else {
            for t in [dW1, db1, dW2, db2] { try fill(t, with: 0) }
            return
        }
        let dA = try makeTensor([n, g]), z = try makeTensor([n, d]), dS = try makeTensor([n, h]), dU = try makeTensor([n, k])
        let bdA = try buffer(dA, "cafu scratch"), bz = try buffer(z, "cafu scratch")
        let bdS = try buffer(dS, "cafu scratch"), bdU = try buffer(dU, "cafu scratch")
        let wg = tuning.cafuGroupSize, lanes = 32, itemsPerGroup = wg / lanes

        try cafuKernel("cafu_backward_gate").launch(
            [.int(Int32(n)), .int(Int32(m)), .int(Int32(d)), .int(Int32(p.gateWidth)), .int(bda == nil ? 0 : 1),
             .buffer(bdr), .buffer(bda ?? bdr), .buffer(bx), .buffer(bm), .buffer(ba), .buffer(bdA), .buffer(bdx), .buffer(bz)],
            global: [lanes, (n + itemsPerGroup - 1) / itemsPerGroup * itemsPerGroup, 1], local: [lanes, itemsPerGroup, 1])
        try gemm(GemmParameters(m: n, n: h, k: g), a: dA, b: w2, c: dS, bias: nil)
        try cafuKernel("cafu_relu_backward").launch([.int(Int32(n * h)), .buffer(bh), .buffer(bdS)],
                                                    global: [n * h], local: [wg])
        try gemm(GemmParameters(m: n, n: k, k: h), a: dS, b: w1, c: dU, bias: nil)
        try cafuKernel("cafu_backward_inputs").launch(
            [.int(Int32(n)), .int(Int32(m)), .int(Int32(d)), .int(Int32(dc)), .buffer(bdU), .buffer(bm), .buffer(bdx), .buffer(bdc)],
            global: [n * k], local: [wg])

        // Weight gradients: fixed item blocks → partial products → sums in block order.
        let itemsPerBlock = max(64, (n + 63) / 64)
        let blocks = (n + itemsPerBlock - 1) / itemsPerBlock
        let partial = try scratch("cafu weight partials", byteCount: blocks * max(g * (h + 1), h * (k + 1)) * 4)
        let kp = try cafuKernel("cafu_weight_partial"), kf = try cafuKernel("cafu_weight_finalize")
        let products: [(a: OpenCLBuffer, i: Int, j1: Int, j2: Int, relu: Bool, b1: OpenCLBuffer, b2: OpenCLBuffer,
                        dW: OpenCLBuffer, db: OpenCLBuffer)] = [
            (bdA, g, h, 0, true, bh, bh, bdw2, bdb2),
            (bdS, h, d, dc, false, bz, bc, bdw1, bdb1),
        ]
        for q in products {
            let jp = q.j1 + q.j2 + 1
            try kp.launch([.int(Int32(n)), .int(Int32(q.i)), .int(Int32(q.j1)), .int(Int32(q.j2)), .int(q.relu ? 1 : 0),
                           .int(Int32(itemsPerBlock)), .buffer(q.a), .buffer(q.b1), .buffer(q.b2), .buffer(partial)],
                          global: [(jp + 31) / 32 * 16, (q.i + 31) / 32 * 16, blocks], local: [16, 16, 1])
            try kf.launch([.int(Int32(q.i)), .int(Int32(q.j1 + q.j2)), .int(Int32(blocks)), .buffer(partial),
                           .buffer(q.dW), .buffer(q.db)],
                          global: [q.i * jp], local: [wg])
        }
    }
}
