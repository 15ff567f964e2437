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
        let p = AdamWParameters(learningRate: 1e-3, weightDecay: weightDecay, step: step)
        return EquivalenceCase(op: "adamw",
                               shape: "n=\(count) t=\(step) wd=\(weightDecay)" + (scale.map { " scale=\($0)" } ?? ""),
                               quick: quick) { backend in
            var rng = SeededRandom(seed: UInt64(count * 13 + step))
            let w0 = rng.floats(count), g = rng.floats(count)
            // Moments as after earlier steps: m of gradient size, v ≥ 0 of squared-gradient size.
            let m0 = rng.floats(count, -0.1, 0.1), v0 = rng.floats(count, 0, 0.01)
            let tw = try backend.tensor(w0, shape: [count]), tg = try backend.tensor(g, shape: [count])
            let tm = try backend.tensor(m0, shape: [count]), tv = try backend.tensor(v0, shape: [count])
            let ts = try scale.map { try backend.tensor([$0], shape: [1]) }
            try backend.adamW(p, parameter: tw, gradient: tg, m: tm, v: tv, gradientScale: ts)
            let gotW = try backend.read(tw), gotM = try backend.read(tm), gotV = try backend.read(tv)

            var w = w0.map(Double.init), m = m0.map(Double.init), v = v0.map(Double.init)
            let dg = g.map(Double.init)
            w.withUnsafeMutableBufferPointer { pw in m.withUnsafeMutableBufferPointer { pm in v.withUnsafeMutableBufferPointer { pv in
                dg.withUnsafeBufferPointer { pg in
                    OptimizerReference.adamW(p, parameter: pw.baseAddress!, gradient: pg.baseAddress!, m: pm.baseAddress!,
                                             v: pv.baseAddress!, count: count, gradientScale: Double(scale ?? 1))
                }
            } } }
            let tol = Tolerance(reductionLength: 1)
            return [Comparison.compare("parameter", actual: gotW, expected: w, tolerance: tol),
                    Comparison.compare("m", actual: gotM, expected: m, tolerance: tol),
                    Comparison.compare("v", actual: gotV, expected: v, tolerance: tol)]
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
        ]
    }
}
