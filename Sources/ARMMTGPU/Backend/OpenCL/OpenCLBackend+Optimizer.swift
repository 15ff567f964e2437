import Kernels

extension OpenCLBackend: OptimizerOps {
    /// Tensors per launch of the optimizer kernels: their argument lists have 8 slots
    /// (optimizer.cl). One launch per tensor was a third of a training step's launches.
    static let tensorsPerLaunch = 8

    public func gradientNorm(_ tensors: [Tensor], maxNorm: Float, norm: Tensor, clipScale: Tensor) throws {
        try OptimizerValidation.gradientNorm(tensors, maxNorm: maxNorm, norm: norm, clipScale: clipScale)
        let buffers = try tensors.enumerated().map { try buffer($0.element, "gradient norm tensor \($0.offset)") }
        let bn = try buffer(norm, "gradient norm output"), bs = try buffer(clipScale, "gradient norm clipScale")
        let wg = try treeWorkGroup(tuning.optimizerWorkGroup, "optimizerWorkGroup")
        // The grid of each tensor depends only on its size, which fixes the summation order.
        let groups = tensors.map { min(tuning.gradientNormGroups, ($0.count + wg - 1) / wg) }
        let slots = groups.reduce(0, +)
        // One slot per (tensor, group), summed by the final kernel in slot order.
        let partials = try scratch("gradient norm partials", byteCount: max(slots, 1) * MemoryLayout<Float>.size)
        let partial = try kernel("optim_sumsq_partial", family: "optimizer", source: KernelSources.optimizer)
        var slot = 0
        for launch in Self.launches(groups) {
            var args: [OpenCLKernel.Argument] = [.int(Int32(launch.count)), .int(Int32(slot))]
            for (i, first) in launch.slots {
                args += [.buffer(buffers[i]), .int(Int32(tensors[i].count)), .int(Int32(first)), .int(Int32(groups[i]))]
            }
            args.append(.buffer(partials))
            try partial.launch(args, global: [launch.groups * wg], local: [wg])
            slot += launch.groups
        }
        let final = try kernel("optim_norm_final", family: "optimizer", source: KernelSources.optimizer)
        try final.launch([.int(Int32(slots)), .buffer(partials), .float(maxNorm), .buffer(bn), .buffer(bs)],
                         global: [wg], local: [wg])
    }

    public func adamW(_ p: AdamWParameters, parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor,
                      gradientScale: Tensor?) throws {
        try adamW(p, tensors: [AdamWTensors(parameter: parameter, gradient: gradient, m: m, v: v)], gradientScale: gradientScale)
    }

    public func adamW(_ p: AdamWParameters, tensors: [AdamWTensors], gradientScale: Tensor?) throws {
        for t in tensors {
            try OptimizerValidation.adamW(p, parameter: t.parameter, gradient: t.gradient, m: t.m, v: t.v, gradientScale: gradientScale)
        }
        let buffers = try tensors.map {
            [try buffer($0.parameter, "adamw parameter"), try buffer($0.gradient, "adamw gradient"),
             try buffer($0.m, "adamw m"), try buffer($0.v, "adamw v")]
        }
        let bscale = try gradientScale.map { try buffer($0, "adamw gradientScale") }
        let wg = tuning.optimizerWorkGroup
        let groups = tensors.map { ($0.parameter.count + wg - 1) / wg }
        let s = p.scalars
        let k = try kernel("optim_adamw", family: "optimizer", source: KernelSources.optimizer)
        for launch in Self.launches(groups) {
            var args: [OpenCLKernel.Argument] = [.int(Int32(launch.count))]
            for (i, first) in launch.slots {
                args += buffers[i].map { .buffer($0) } + [.int(Int32(tensors[i].parameter.count)), .int(Int32(first))]
            }
            args += [
                // Without a scale the kernel never reads it; a gradient stands in as a valid handle.
                .buffer(bscale ?? buffers[launch.slots[0].tensor][1]), .int(bscale == nil ? 0 : 1),
                .float(Float(s.decay)), .float(Float(s.stepSize)), .float(Float(s.biasCorrection2Sqrt)), .float(p.beta2),
                .float(1 - p.beta1), .float(1 - p.beta2), .float(p.epsilon),
            ]
            try k.launch(args, global: [launch.groups * wg], local: [wg])
        }
    }

    /// One launch of an optimizer kernel: `count` tensors in its `tensorsPerLaunch` slots, each
    /// slot a tensor index and that tensor's first work-group (the unused slots repeat the first
    /// tensor, starting past the last group), and the launch's work-groups in all.
    struct OptimizerLaunch {
        var count: Int
        var slots: [(tensor: Int, first: Int)]
        var groups: Int
    }

    /// The launches for tensors of `groups` work-groups each: consecutive runs of up to
    /// `tensorsPerLaunch` tensors in order, leaving out tensors with no work-groups (empty ones).
    static func launches(_ groups: [Int]) -> [OptimizerLaunch] {
        let busy = groups.indices.filter { groups[$0] > 0 }
        return stride(from: 0, to: busy.count, by: tensorsPerLaunch).map { start in
            let run = busy[start..<min(start + tensorsPerLaunch, busy.count)]
            var slots: [(tensor: Int, first: Int)] = [], first = 0
            for i in run {
                slots.append((i, first))
                first += groups[i]
            }
            slots += Array(repeating: (run.first!, first), count: tensorsPerLaunch - run.count)
            return OptimizerLaunch(count: run.count, slots: slots, groups: first)
        }
    }

    /// A work-group size for the kernels that sum in a halving tree: a power of two the device runs.
    func treeWorkGroup(_ size: Int, _ name: String) throws -> Int {
        guard size > 0, size & (size - 1) == 0, size <= context.info.maxWorkGroupSize else {
            throw EngineError.usage("tuning \(name) = \(size): must be a power of two ≤ the device's work-group limit \(context.info.maxWorkGroupSize)")
        }
        return size
    }
}
