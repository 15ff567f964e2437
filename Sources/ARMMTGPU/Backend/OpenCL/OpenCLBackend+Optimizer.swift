import Kernels

extension OpenCLBackend: OptimizerOps {
    public func gradientNorm(_ tensors: [Tensor], maxNorm: Float, norm: Tensor, clipScale: Tensor) throws {
        try OptimizerValidation.gradientNorm(tensors, maxNorm: maxNorm, norm: norm, clipScale: clipScale)
        let buffers = try tensors.enumerated().map { try buffer($0.element, "gradient norm tensor \($0.offset)") }
        let bn = try buffer(norm, "gradient norm output"), bs = try buffer(clipScale, "gradient norm clipScale")
        let wg = try treeWorkGroup(tuning.optimizerWorkGroup, "optimizerWorkGroup")
        // The grid of each tensor depends only on its size, which fixes the summation order.
        let groups = tensors.map { min(tuning.gradientNormGroups, ($0.count + wg - 1) / wg) }
        let slots = groups.reduce(0, +)
        // One slot per (tensor, group), summed by the final kernel in slot order.
        let partials = try scratch("gradient norm partials", byteCount: slots * MemoryLayout<Float>.size)
        let partial = try kernel("optim_sumsq_partial", family: "optimizer", source: KernelSources.optimizer)
        var slot = 0
        for (i, t) in tensors.enumerated() where groups[i] > 0 {
            try partial.launch([.int(Int32(t.count)), .buffer(buffers[i]), .buffer(partials), .int(Int32(slot))],
                               global: [groups[i] * wg], local: [wg])
            slot += groups[i]
        }
        let final = try kernel("optim_norm_final", family: "optimizer", source: KernelSources.optimizer)
        try final.launch([.int(Int32(slots)), .buffer(partials), .float(maxNorm), .buffer(bn), .buffer(bs)],
                         global: [wg], local: [wg])
    }

    public func adamW(_ p: AdamWParameters, parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor,
                      gradientScale: Tensor?) throws {
        try OptimizerValidation.adamW(p, parameter: parameter, gradient: gradient, m: m, v: v, gradientScale: gradientScale)
        let bp = try buffer(parameter, "adamw parameter"), bg = try buffer(gradient, "adamw gradient")
        let bm = try buffer(m, "adamw m"), bv = try buffer(v, "adamw v")
        let bscale = try gradientScale.map { try buffer($0, "adamw gradientScale") }
        let s = p.scalars
        let k = try kernel("optim_adamw", family: "optimizer", source: KernelSources.optimizer)
        try k.launch([
            .int(Int32(parameter.count)), .buffer(bp), .buffer(bg), .buffer(bm), .buffer(bv),
            // Without a scale the kernel never reads it; the gradient stands in as a valid handle.
            .buffer(bscale ?? bg), .int(bscale == nil ? 0 : 1),
            .float(Float(s.decay)), .float(Float(s.stepSize)), .float(Float(s.biasCorrection2Sqrt)), .float(p.beta2),
            .float(1 - p.beta1), .float(1 - p.beta2), .float(p.epsilon),
        ], global: [parameter.count], local: [tuning.optimizerWorkGroup])
    }

    /// A work-group size for the kernels that sum in a halving tree: a power of two the device runs.
    func treeWorkGroup(_ size: Int, _ name: String) throws -> Int {
        guard size > 0, size & (size - 1) == 0, size <= context.info.maxWorkGroupSize else {
            throw EngineError.usage("tuning \(name) = \(size): must be a power of two ≤ the device's work-group limit \(context.info.maxWorkGroupSize)")
        }
        return size
    }
}
