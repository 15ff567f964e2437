/// Equivalence cases for `Backend.layerNormForward` / `layerNormBackward`.
public enum LayerNormChecks {
    /// (rows, d) pairs covering the awkward sizes in both dimensions without a full product,
    /// plus the model's width (64) and d beyond a work-group (1024, 1027).
    public static let shapes: [(rows: Int, d: Int)] = [
        (1, 1), (3, 2), (2, 3), (7, 7), (16, 15), (17, 16), (15, 17), (33, 31), (31, 33),
        (65, 63), (129, 64), (2, 65), (63, 127), (3, 129), (5, 1024), (2, 1027), (1000, 64),
    ]

    /// Seeded inputs: x with a per-row offset (so the mean matters), γ around 1, β and dy in [-1, 1).
    static func inputs(rows: Int, d: Int, seed: UInt64) -> (x: [Float], gamma: [Float], beta: [Float], dy: [Float]) {
        var rng = SeededRandom(seed: seed &+ UInt64(rows * 7919 + d))
        var x = rng.floats(rows * d, -1, 1)
        for i in 0..<rows {
            let offset = Float(rng.uniform(-2, 2))
            for j in 0..<d { x[i * d + j] += offset }
        }
        return (x, rng.floats(d, 0.5, 1.5), rng.floats(d), rng.floats(rows * d))
    }

    /// Double reference forward: (y, mean, rstd).
    public static func referenceForward(rows: Int, d: Int, epsilon: Float, x: [Float], gamma: [Float], beta: [Float])
        -> (y: [Double], mean: [Double], rstd: [Double]) {
        let dx = x.map(Double.init), dg = gamma.map(Double.init), db = beta.map(Double.init)
        var y = [Double](repeating: 0, count: rows * d), mean = [Double](repeating: 0, count: rows)
        var rstd = mean
        LayerNormReference.forward(rows: rows, d: d, epsilon: Double(epsilon), x: dx, gamma: dg, beta: db,
                                   y: &y, mean: &mean, rstd: &rstd)
        return (y, mean, rstd)
    }

    public static func forwardCase(rows: Int, d: Int, seed: UInt64 = 1, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "layernorm", shape: "fwd rows=\(rows) d=\(d)", quick: quick) { backend in
            let p = LayerNormParameters(rows: rows, features: d)
            let (x, gamma, beta, _) = inputs(rows: rows, d: d, seed: seed)
            let tx = try backend.tensor(x, shape: [rows, d]), tg = try backend.tensor(gamma, shape: [d])
            let tb = try backend.tensor(beta, shape: [d])
            let ty = try backend.makeTensor([rows, d]), tm = try backend.makeTensor([rows]), tr = try backend.makeTensor([rows])
            for t in [ty, tm, tr] { try backend.fill(t, with: .nan) }
            try backend.layerNormForward(p, x: tx, gamma: tg, beta: tb, y: ty, mean: tm, rstd: tr)
            let ref = referenceForward(rows: rows, d: d, epsilon: p.epsilon, x: x, gamma: gamma, beta: beta)
            let tol = Tolerance(reductionLength: d)
            return [Comparison.compare("y", actual: try backend.read(ty), expected: ref.y, tolerance: tol),
                    Comparison.compare("mean", actual: try backend.read(tm), expected: ref.mean, tolerance: tol),
                    Comparison.compare("rstd", actual: try backend.read(tr), expected: ref.rstd, tolerance: tol)]
        }
    }

    /// The backward gets the reference's mean and rstd (rounded to float), so it is checked on
    /// its own; `inPlace` passes dy as dx.
    public static func backwardCase(rows: Int, d: Int, seed: UInt64 = 2, inPlace: Bool = false, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "layernorm", shape: "bwd rows=\(rows) d=\(d)" + (inPlace ? " dx=dy" : ""), quick: quick) { backend in
            let p = LayerNormParameters(rows: rows, features: d)
            let (x, gamma, beta, dy) = inputs(rows: rows, d: d, seed: seed)
            let ref = referenceForward(rows: rows, d: d, epsilon: p.epsilon, x: x, gamma: gamma, beta: beta)
            let tdy = try backend.tensor(dy, shape: [rows, d]), tx = try backend.tensor(x, shape: [rows, d])
            let tg = try backend.tensor(gamma, shape: [d])
            let tm = try backend.tensor(ref.mean.map { Float($0) }, shape: [rows])
            let tr = try backend.tensor(ref.rstd.map { Float($0) }, shape: [rows])
            let tdx = inPlace ? tdy : try backend.makeTensor([rows, d])
            let tdg = try backend.makeTensor([d]), tdb = try backend.makeTensor([d])
            for t in (inPlace ? [tdg, tdb] : [tdx, tdg, tdb]) { try backend.fill(t, with: .nan) }
            try backend.layerNormBackward(p, dy: tdy, x: tx, gamma: tg, mean: tm, rstd: tr, dx: tdx, dGamma: tdg, dBeta: tdb)

            var edx = [Double](repeating: 0, count: rows * d), edg = [Double](repeating: 0, count: d), edb = edg
            LayerNormReference.backward(rows: rows, d: d, dy: dy.map(Double.init), x: x.map(Double.init),
                                        gamma: gamma.map(Double.init), mean: ref.mean, rstd: ref.rstd,
                                        dx: &edx, dGamma: &edg, dBeta: &edb)
            // dx: reductions over d; dγ, dβ: sums over rows of terms that each went through a row's μ, ρ.
            return [dxComparison(try backend.read(tdx), edx, dy: dy, gamma: gamma, rstd: ref.rstd, rows: rows, d: d),
                    Comparison.compare("dGamma", actual: try backend.read(tdg), expected: edg,
                                       tolerance: Tolerance(reductionLength: rows + d)),
                    Comparison.compare("dBeta", actual: try backend.read(tdb), expected: edb,
                                       tolerance: Tolerance(reductionLength: rows))]
        }
    }

    /// dx under the tolerance rule with S = the size of the terms dx is a difference of,
    /// max ρ_i·|dy[i, j]·γ[j]| (for d ≤ 2, and rows whose x̂ is ±1, dx cancels to ~0 exactly).
    static func dxComparison(_ got: [Float], _ expected: [Double], dy: [Float], gamma: [Float], rstd: [Double],
                             rows: Int, d: Int) -> Comparison {
        var termScale = 0.0
        for i in 0..<rows {
            for j in 0..<d { termScale = max(termScale, rstd[i] * abs(Double(dy[i * d + j]) * Double(gamma[j]))) }
        }
        return Comparison.compare("dx", actual: got, expected: expected, tolerance: Tolerance(reductionLength: d),
                                  termScale: termScale)
    }

    public static func cases() -> [EquivalenceCase] {
        var out: [EquivalenceCase] = []
        for (i, s) in shapes.enumerated() {
            let quick = i < 3
            out.append(forwardCase(rows: s.rows, d: s.d, quick: quick))
            out.append(backwardCase(rows: s.rows, d: s.d, quick: quick))
        }
        out.append(backwardCase(rows: 33, d: 64, inPlace: true, quick: true))
        out.append(backwardCase(rows: 0, d: 5))
        out.append(forwardCase(rows: 0, d: 5))
        return out
    }
}
