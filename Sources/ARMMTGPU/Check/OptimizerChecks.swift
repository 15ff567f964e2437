/// Equivalence cases for `OptimizerOps` against the Double reference.
public enum OptimizerChecks {
    /// The global norm and clip scale of tensors with the given element counts.
    public static func gradientNorm(counts: [Int], maxNorm: Float, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "grad_norm", shape: "counts=\(counts) maxNorm=\(maxNorm)", quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(bitPattern: Int64(counts.reduce(17) { $0 &* 31 &+ $1 })))
            let values = counts.map { rng.floats($0) }
            let tensors = try zip(values, counts).map { try backend.tensor($0.0, shape: [$0.1]) }
            let tn = try backend.makeTensor([1]), ts = try backend.makeTensor([1])
            try backend.fill(tn, with: .nan)
            try backend.fill(ts, with: .nan)
            try backend.gradientNorm(tensors, maxNorm: maxNorm, norm: tn, clipScale: ts)
            let gotNorm = try backend.read(tn), gotScale = try backend.read(ts)

            var sum = 0.0
            for v in values {
                let d = v.map(Double.init)
                sum += d.withUnsafeBufferPointer { OptimizerReference.sumOfSquares($0.baseAddress!, count: d.count) }
            }
            let norm = sum.squareRoot()
            let scale = OptimizerReference.clipScale(norm: norm, maxNorm: Double(maxNorm))
            let n = max(1, counts.reduce(0, +))
            return [Comparison.compare("norm", actual: gotNorm, expected: [norm], tolerance: Tolerance(reductionLength: n)),
                    Comparison.compare("clipScale", actual: gotScale, expected: [scale], tolerance: Tolerance(reductionLength: n))]
        }
    }

    /// One AdamW step at `step` over `count` elements, optionally with a device clip scale.
    public static func adamW(count: Int, step: Int, weightDecay: Float = 0.01, scale: Float? = nil,
                             quick: Bool = false) -> EquivalenceCase {
        adamW(counts: [count], step: step, weightDecay: weightDecay, scale: scale, quick: quick)
    }

    /// One AdamW step over tensors of `counts` elements: one tensor through the single-tensor
    /// call, several through the batched one (`adamW(_:tensors:gradientScale:)`).
    public static func adamW(counts: [Int], step: Int, weightDecay: Float = 0.01, scale: Float? = nil,
                             quick: Bool = false) -> EquivalenceCase {
        let p = AdamWParameters(learningRate: 1e-3, weightDecay: weightDecay, step: step)
        let size = counts.count == 1 ? "n=\(counts[0])" : "counts=\(counts)"
        return EquivalenceCase(op: "adamw", shape: "\(size) t=\(step) wd=\(weightDecay)" + (scale.map { " scale=\($0)" } ?? ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(counts.reduce(step) { $0 &* 13 &+ $1 }))
            let w0 = counts.map { rng.floats($0) }, g = counts.map { rng.floats($0) }
            // Moments as after earlier steps: m of gradient size, v ≥ 0 of squared-gradient size.
            let m0 = counts.map { rng.floats($0, -0.1, 0.1) }, v0 = counts.map { rng.floats($0, 0, 0.01) }
            func upload(_ values: [[Float]]) throws -> [Tensor] { try values.map { try backend.tensor($0, shape: [$0.count]) } }
            let tw = try upload(w0), tg = try upload(g), tm = try upload(m0), tv = try upload(v0)
            let ts = try scale.map { try backend.tensor([$0], shape: [1]) }
            if counts.count == 1 {
                try backend.adamW(p, parameter: tw[0], gradient: tg[0], m: tm[0], v: tv[0], gradientScale: ts)
            } else {
                try backend.adamW(p, tensors: counts.indices.map { AdamWTensors(parameter: tw[$0], gradient: tg[$0], m: tm[$0], v: tv[$0]) },
                                  gradientScale: ts)
            }
            var out: [Comparison] = []
            for (i, count) in counts.enumerated() {
                var w = w0[i].map(Double.init), m = m0[i].map(Double.init), v = v0[i].map(Double.init)
                let dg = g[i].map(Double.init)
                w.withUnsafeMutableBufferPointer { pw in m.withUnsafeMutableBufferPointer { pm in v.withUnsafeMutableBufferPointer { pv in
                    dg.withUnsafeBufferPointer { pg in
                        OptimizerReference.adamW(p, parameter: pw.baseAddress!, gradient: pg.baseAddress!, m: pm.baseAddress!,
                                                 v: pv.baseAddress!, count: count, gradientScale: Double(scale ?? 1))
                    }
                } } }
                let tol = Tolerance(reductionLength: 1)
                let name = counts.count == 1 ? "" : " \(i)"
                out += [Comparison.compare("parameter" + name, actual: try backend.read(tw[i]), expected: w, tolerance: tol),
                        Comparison.compare("m" + name, actual: try backend.read(tm[i]), expected: m, tolerance: tol),
                        Comparison.compare("v" + name, actual: try backend.read(tv[i]), expected: v, tolerance: tol)]
            }
            return out
        }
    }

    public static func cases() -> [EquivalenceCase] {
        [
            gradientNorm(counts: [3, 7], maxNorm: 1, quick: true),
            gradientNorm(counts: [1], maxNorm: 100, quick: true),
            gradientNorm(counts: [], maxNorm: 1),
            gradientNorm(counts: [0, 2, 0], maxNorm: .infinity),
            gradientNorm(counts: [15, 16, 17, 31, 33, 63, 64, 65, 127, 129], maxNorm: 5),
            gradientNorm(counts: [100_003, 4096, 65_537], maxNorm: 1),
            adamW(count: 7, step: 1, quick: true),
            adamW(count: 3, step: 5, scale: 0.25, quick: true),
            adamW(count: 1, step: 1, weightDecay: 0),
            adamW(count: 65, step: 2),
            adamW(count: 129, step: 1000, weightDecay: 0.1, scale: 0.5),
            adamW(count: 10_007, step: 10),
            // More tensors than one launch of the OpenCL kernel takes (8), empty ones among them.
            adamW(counts: [3, 0, 255, 256, 257, 1, 17, 0, 513, 64, 2, 1000, 9], step: 3, scale: 0.5, quick: true),
            adamW(counts: [129, 65, 33, 17, 9, 5, 3, 2, 1], step: 1, weightDecay: 0),
        ]
    }
}
