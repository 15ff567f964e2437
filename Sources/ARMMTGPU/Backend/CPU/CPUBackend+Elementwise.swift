extension CPUBackend: ElementwiseOps {
    public func biasActivationForward(_ p: BiasActivationParameters, x: Tensor, bias: Tensor?, y: Tensor) throws {
        try p.validateForward(x: x, bias: bias, y: y)
        ElementwiseFastPath.forward(p, x: try host(x, "x"), bias: try bias.map { UnsafePointer(try host($0, "bias")) },
                                    y: try host(y, "y"), parallel: parallel)
    }

    public func biasActivationBackward(_ p: BiasActivationParameters, dy: Tensor, x: Tensor, bias: Tensor?,
                                       dx: Tensor, dBias: Tensor?) throws {
        try p.validateBackward(dy: dy, x: x, bias: bias, dx: dx, dBias: dBias)
        ElementwiseFastPath.backward(p, dy: try host(dy, "dy"), x: try host(x, "x"),
                                     bias: try bias.map { UnsafePointer(try host($0, "bias")) },
                                     dx: try host(dx, "dx"), dBias: try dBias.map { try host($0, "dBias") }, parallel: parallel)
    }

    public func residualAdd(_ a: Tensor, _ b: Tensor, out: Tensor) throws {
        try ElementwiseValidation.sameCount("add", [(a, "a"), (b, "b"), (out, "out")])
        ElementwiseReference.add(count: a.count, a: try host(a, "a"), b: try host(b, "b"), out: try host(out, "out"))
    }

    public func accumulate(_ x: Tensor, into y: Tensor) throws {
        try ElementwiseValidation.sameCount("accumulate", [(y, "y"), (x, "x")])
        ElementwiseReference.scaleAdd(count: x.count, alpha: Float(1), x: try host(x, "x"), y: try host(y, "y"))
    }

    public func scaleAdd(alpha: Float, x: Tensor, y: Tensor) throws {
        try ElementwiseValidation.sameCount("scaleAdd", [(y, "y"), (x, "x")])
        ElementwiseReference.scaleAdd(count: x.count, alpha: alpha, x: try host(x, "x"), y: try host(y, "y"))
    }

    public func multiply(_ a: Tensor, _ b: Tensor, out: Tensor, accumulate: Bool) throws {
        try ElementwiseValidation.sameCount("multiply", [(a, "a"), (b, "b"), (out, "out")])
        ElementwiseReference.multiply(count: a.count, a: try host(a, "a"), b: try host(b, "b"), out: try host(out, "out"),
                                      accumulate: accumulate)
    }
}
