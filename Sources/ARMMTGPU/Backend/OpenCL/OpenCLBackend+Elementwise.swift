import Kernels

extension OpenCLBackend: ElementwiseOps {
    private func elementwiseKernel(_ name: String) throws -> OpenCLKernel {
        try kernel(name, family: "elementwise", source: KernelSources.elementwise)
    }

    private static func activationCode(_ a: BiasActivation) -> Int32 { a == .gelu ? 0 : 1 }

    public func biasActivationForward(_ p: BiasActivationParameters, x: Tensor, bias: Tensor?, y: Tensor) throws {
        try p.validateForward(x: x, bias: bias, y: y)
        let bx = try buffer(x, "x"), by = try buffer(y, "y"), bb = try bias.map { try buffer($0, "bias") }
        let n = p.rows * p.cols
        guard n > 0 else { return }
        try elementwiseKernel("elementwise_bias_act_forward").launch(
            [.int(Int32(n)), .int(Int32(p.cols)), .int(Self.activationCode(p.activation)), .int(bb == nil ? 0 : 1),
             // Without a bias the kernel never reads it; x stands in as a valid handle.
             .buffer(bx), .buffer(bb ?? bx), .buffer(by)],
            global: [n], local: [tuning.elementwiseGroupSize])
    }

    public func biasActivationBackward(_ p: BiasActivationParameters, dy: Tensor, x: Tensor, bias: Tensor?,
                                       dx: Tensor, dBias: Tensor?) throws {
        try p.validateBackward(dy: dy, x: x, bias: bias, dx: dx, dBias: dBias)
        let bdy = try buffer(dy, "dy"), bx = try buffer(x, "x"), bdx = try buffer(dx, "dx")
        let bb = try bias.map { try buffer($0, "bias") }, bdb = try dBias.map { try buffer($0, "dBias") }
        if p.rows == 0 || p.cols == 0 {
            if let dBias { try fill(dBias, with: 0) }
            return
        }
        let plan = ColumnReducePlan(rows: p.rows, tuning: tuning)
        let partial = bdb == nil ? nil : try scratch("bias gradient partials", byteCount: plan.blocks * p.cols * 4)
        let local = ColumnReducePlan.local(tuning)
        try elementwiseKernel("elementwise_bias_act_backward").launch(
            [.int(Int32(p.rows)), .int(Int32(p.cols)), .int(Int32(plan.rowsPerBlock)),
             .int(Self.activationCode(p.activation)), .int(bb == nil ? 0 : 1), .int(partial == nil ? 0 : 1),
             .buffer(bdy), .buffer(bx), .buffer(bb ?? bx), .buffer(bdx), .buffer(partial ?? bdx)],
            global: plan.global(cols: p.cols, tuning: tuning), local: local)
        if let partial, let bdb {
            try plan.sumPartials(partial, into: bdb, cols: p.cols, on: self)
        }
    }

    public func residualAdd(_ a: Tensor, _ b: Tensor, out: Tensor) throws {
        try ElementwiseValidation.sameCount("add", [(a, "a"), (b, "b"), (out, "out")])
        let ba = try buffer(a, "add a"), bb = try buffer(b, "add b"), bo = try buffer(out, "add out")
        try elementwiseKernel("elementwise_add").launch([.int(Int32(a.count)), .buffer(ba), .buffer(bb), .buffer(bo)],
                                                        global: [a.count], local: [tuning.elementwiseGroupSize])
    }

    public func accumulate(_ x: Tensor, into y: Tensor) throws {
        try ElementwiseValidation.sameCount("accumulate", [(y, "y"), (x, "x")])
        try axpy(1, x, y, "accumulate")
    }

    public func scaleAdd(alpha: Float, x: Tensor, y: Tensor) throws {
        try ElementwiseValidation.sameCount("scaleAdd", [(y, "y"), (x, "x")])
        try axpy(alpha, x, y, "scaleAdd")
    }

    public func multiply(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool) throws {
        try ElementwiseValidation.sameCount("multiply", [(a, "a"), (b, "b"), (out, "out")])
        let ba = try buffer(a, "multiply a"), bb = try buffer(b, "multiply b"), bo = try buffer(out, "multiply out")
        guard a.count > 0 else { return }
        try elementwiseKernel("elementwise_multiply").launch(
            [.int(Int32(a.count)), .int(accumulate ? 1 : 0), .buffer(ba), .buffer(bb), .buffer(bo)],
            global: [a.count], local: [tuning.elementwiseGroupSize])
    }

    private func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor, _ op: String) throws {
        let bx = try buffer(x, "\(op) x"), by = try buffer(y, "\(op) y")
        try elementwiseKernel("elementwise_axpy").launch([.int(Int32(x.count)), .float(alpha), .buffer(bx), .buffer(by)],
                                                         global: [x.count], local: [tuning.elementwiseGroupSize])
    }
}
