extension CPUBackend: LayerNormOps {
    public func layerNormForward(_ p: LayerNormParameters, x: Tensor, gamma: Tensor, beta: Tensor,
                                 y: Tensor, mean: Tensor, rstd: Tensor) throws {
        try p.validateForward(x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd)
        LayerNormFastPath.forward(rows: p.rows, d: p.features, epsilon: p.epsilon,
                                  x: try host(x, "layernorm x"), gamma: try host(gamma, "layernorm gamma"),
                                  beta: try host(beta, "layernorm beta"), y: try host(y, "layernorm y"),
                                  mean: try host(mean, "layernorm mean"), rstd: try host(rstd, "layernorm rstd"),
                                  parallel: parallel)
    }

    public func layerNormBackward(_ p: LayerNormParameters, dy: Tensor, x: Tensor, gamma: Tensor,
                                  mean: Tensor, rstd: Tensor, dx: Tensor, dGamma: Tensor, dBeta: Tensor) throws {
        try p.validateBackward(dy: dy, x: x, gamma: gamma, mean: mean, rstd: rstd, dx: dx, dGamma: dGamma, dBeta: dBeta)
        LayerNormFastPath.backward(rows: p.rows, d: p.features, dy: try host(dy, "layernorm dy"),
                                   x: try host(x, "layernorm x"), gamma: try host(gamma, "layernorm gamma"),
                                   mean: try host(mean, "layernorm mean"), rstd: try host(rstd, "layernorm rstd"),
                                   dx: try host(dx, "layernorm dx"), dGamma: try host(dGamma, "layernorm dGamma"),
                                   dBeta: try host(dBeta, "layernorm dBeta"), parallel: parallel)
    }
}
