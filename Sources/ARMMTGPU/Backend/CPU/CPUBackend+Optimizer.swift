extension CPUBackend: OptimizerOps {
    public func gradientNorm(_ tensors: [Tensor], maxNorm: Float, norm: Tensor, clipScale: Tensor) throws {
        try OptimizerValidation.gradientNorm(tensors, maxNorm: maxNorm, norm: norm, clipScale: clipScale)
        let values = try tensors.enumerated().map { i, t in
            (values: UnsafePointer(try host(t, "gradient norm tensor \(i)")), count: t.count)
        }
        let n = OptimizerFastPath.sumOfSquares(values, parallel: parallel).squareRoot()
        try host(norm, "gradient norm output")[0] = n
        try host(clipScale, "gradient norm clipScale")[0] = OptimizerReference.clipScale(norm: n, maxNorm: maxNorm)
    }

    public func adamW(_ p: AdamWParameters, parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor,
                      gradientScale: Tensor?) throws {
        try OptimizerValidation.adamW(p, parameter: parameter, gradient: gradient, m: m, v: v, gradientScale: gradientScale)
        let scale = try gradientScale.map { try host($0, "adamw gradientScale")[0] } ?? 1
        OptimizerFastPath.adamW(p, parameter: try host(parameter, "adamw parameter"),
                                gradient: try host(gradient, "adamw gradient"), m: try host(m, "adamw m"),
                                v: try host(v, "adamw v"), count: parameter.count, gradientScale: scale,
                                parallel: parallel)
    }
}
