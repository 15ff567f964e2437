extension CPUBackend {
    public func gemm(_ p: GemmParameters, a: Tensor, b: Tensor, c: Tensor, bias: Tensor?) throws {
        try p.validate(aCount: a.count, bCount: b.count, cCount: c.count, biasCount: bias?.count)
        let pa = try host(a, "gemm A"), pb = try host(b, "gemm B"), pc = try host(c, "gemm C")
        let pbias = try bias.map { try host($0, "gemm bias") }
        GemmReference.run(p, a: pa, b: pb, c: pc, bias: pbias.map { UnsafePointer($0) })
    }
}
