extension CPUBackend: CAFUOps {
    public func cafuForward(_ p: CAFUParameters, x: Tensor, mask: Tensor, context: Tensor, w1: Tensor, b1: Tensor,
                            w2: Tensor, b2: Tensor, r: Tensor, alpha: Tensor, hiddenPre: Tensor) throws {
        try p.validateForward(x: x, mask: mask, context: context, w1: w1, b1: b1, w2: w2, b2: b2, r: r, alpha: alpha,
                              hiddenPre: hiddenPre)
        CAFUFastPath.forward(p, x: try host(x, "cafu x"), mask: try host(mask, "cafu mask"),
                             context: try host(context, "cafu context"), w1: try host(w1, "cafu w1"),
                             b1: try host(b1, "cafu b1"), w2: try host(w2, "cafu w2"), b2: try host(b2, "cafu b2"),
                             r: try host(r, "cafu r"), alpha: try host(alpha, "cafu alpha"),
                             hiddenPre: try host(hiddenPre, "cafu hiddenPre"), scratch: scratch, parallel: parallel)
    }

    public func cafuBackward(_ p: CAFUParameters, dr: Tensor, dAlpha: Tensor?, x: Tensor, mask: Tensor, context: Tensor,
                             w1: Tensor, w2: Tensor, alpha: Tensor, hiddenPre: Tensor,
                             dx: Tensor, dContext: Tensor, dW1: Tensor, db1: Tensor, dW2: Tensor, db2: Tensor) throws {
        try p.validateBackward(dr: dr, dAlpha: dAlpha, x: x, mask: mask, context: context, w1: w1, w2: w2, alpha: alpha,
                               hiddenPre: hiddenPre, dx: dx, dContext: dContext, dW1: dW1, db1: db1, dW2: dW2, db2: db2)
        CAFUFastPath.backward(p, dr: try host(dr, "cafu dr"), dAlpha: try dAlpha.map { UnsafePointer(try host($0, "cafu dAlpha")) },
                              x: try host(x, "cafu x"), mask: try host(mask, "cafu mask"),
                              context: try host(context, "cafu context"), w1: try host(w1, "cafu w1"),
                              w2: try host(w2, "cafu w2"), alpha: try host(alpha, "cafu alpha"),
                              hiddenPre: try host(hiddenPre, "cafu hiddenPre"), dx: try host(dx, "cafu dx"),
                              dContext: try host(dContext, "cafu dContext"), dW1: try host(dW1, "cafu dW1"),
                              db1: try host(db1, "cafu db1"), dW2: try host(dW2, "cafu dW2"), db2: try host(db2, "cafu db2"),
                              scratch: scratch, parallel: parallel)
    }
}
