/// Equivalence cases for the elementwise family.
///
/// Tolerance reduction lengths: bias + activation outputs use n = 4 for GELU (erf and exp are
/// allowed several ulp by OpenCL 1.2, on top of the bias add and the products; √4 doubles the
/// rule's allowance for those) and n = 1 for ReLU (one rounded add); dBias sums rows values,
/// n = rows + 4. Adds and axpy are one or two roundings: n = 1.
public enum ElementwiseChecks {
    public static let shapes: [(rows: Int, cols: Int)] = [
        (1, 1), (2, 3), (3, 2), (7, 15), (16, 17), (17, 16), (31, 33), (33, 31), (63, 64),
        (65, 63), (127, 7), (129, 65), (1, 129), (300, 64), (1030, 3),
    ]

    static func activationLength(_ a: BiasActivation) -> Int { a == .gelu ? 4 : 1 }

    public static func biasActivationCase(_ act: BiasActivation, rows: Int, cols: Int, backward: Bool, hasBias: Bool = true,
                                          inPlace: Bool = false, seed: UInt64 = 3, quick: Bool = false) -> EquivalenceCase {
        var shape = "\(backward ? "bwd" : "fwd") \(act.rawValue) rows=\(rows) cols=\(cols)"
        if !hasBias { shape += " no-bias" }
        if inPlace { shape += " in-place" }
        return EquivalenceCase(op: "elementwise", shape: shape, quick: quick) { backend in
            let p = BiasActivationParameters(act, rows: rows, cols: cols)
            var rng = SeededRandom(seed: seed &+ UInt64(rows * 7919 + cols))
            let x = rng.floats(rows * cols, -3, 3), bias = rng.floats(cols), dy = rng.floats(rows * cols)
            let tx = try backend.tensor(x, shape: [rows, cols])
            let tb = hasBias ? try backend.tensor(bias, shape: [cols]) : nil
            let dxd = x.map(Double.init), dbd = bias.map(Double.init)
            let len = activationLength(act)
            if !backward {
                let ty = inPlace ? tx : try backend.makeTensor([rows, cols])
                if !inPlace { try backend.fill(ty, with: .nan) }
                try backend.biasActivationForward(p, x: tx, bias: tb, y: ty)
                var ey = [Double](repeating: 0, count: rows * cols)
                dbd.withUnsafeBufferPointer { pb in
                    ElementwiseReference.biasActivationForward(p, x: dxd, bias: hasBias ? pb.baseAddress! : nil, y: &ey)
                }
                return [Comparison.compare("y", actual: try backend.read(ty), expected: ey, tolerance: Tolerance(reductionLength: len))]
            }
            let tdy = try backend.tensor(dy, shape: [rows, cols])
            let tdx = inPlace ? tdy : try backend.makeTensor([rows, cols])
            let tdb = hasBias ? try backend.makeTensor([cols]) : nil
            if !inPlace { try backend.fill(tdx, with: .nan) }
            if let tdb { try backend.fill(tdb, with: .nan) }
            try backend.biasActivationBackward(p, dy: tdy, x: tx, bias: tb, dx: tdx, dBias: tdb)
            var edx = [Double](repeating: 0, count: rows * cols), edb = [Double](repeating: 0, count: cols)
            dbd.withUnsafeBufferPointer { pb in edb.withUnsafeMutableBufferPointer { pdb in
                ElementwiseReference.biasActivationBackward(p, dy: dy.map(Double.init), x: dxd, bias: hasBias ? pb.baseAddress! : nil,
                                                            dx: &edx, dBias: hasBias ? pdb.baseAddress! : nil)
            } }
            var out = [Comparison.compare("dx", actual: try backend.read(tdx), expected: edx, tolerance: Tolerance(reductionLength: len))]
            if let tdb {
                out.append(Comparison.compare("dBias", actual: try backend.read(tdb), expected: edb,
                                              tolerance: Tolerance(reductionLength: rows + len)))
            }
            return out
        }
    }

    /// add (out = a + b, also in place into a), accumulate (y += x) and axpy (y = α·x + y).
    public static func vectorCase(count: Int, seed: UInt64 = 4, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "elementwise", shape: "add/accumulate/axpy n=\(count)", quick: quick) { backend in
            var rng = SeededRandom(seed: seed &+ UInt64(count))
            let a = rng.floats(count), b = rng.floats(count), alpha: Float = -0.375
            let ta = try backend.tensor(a, shape: [count]), tb = try backend.tensor(b, shape: [count])
            let tout = try backend.makeTensor([count])
            try backend.fill(tout, with: .nan)
            try backend.residualAdd(ta, tb, out: tout)
            let sum = zip(a, b).map { Double($0) + Double($1) }
            let ta2 = try backend.tensor(a, shape: [count])
            try backend.residualAdd(ta2, tb, out: ta2)
            let tacc = try backend.tensor(a, shape: [count])
            try backend.accumulate(tb, into: tacc)
            let taxpy = try backend.tensor(a, shape: [count])
            try backend.scaleAdd(alpha: alpha, x: tb, y: taxpy)
            let axpy = zip(a, b).map { Double(alpha) * Double($1) + Double($0) }
            let tol = Tolerance(reductionLength: 1)
            return [Comparison.compare("add", actual: try backend.read(tout), expected: sum, tolerance: tol),
                    Comparison.compare("add in place", actual: try backend.read(ta2), expected: sum, tolerance: tol),
                    Comparison.compare("accumulate", actual: try backend.read(tacc), expected: sum, tolerance: tol),
                    Comparison.compare("axpy", actual: try backend.read(taxpy), expected: axpy, tolerance: tol)]
        }
    }

    /// multiply: out = a ⊙ b (poisoned output, and in place into a) and out += a ⊙ b.
    public static func multiplyCase(count: Int, seed: UInt64 = 5, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "elementwise", shape: "multiply n=\(count)", quick: quick) { backend in
            var rng = SeededRandom(seed: seed &+ UInt64(count))
            let a = rng.floats(count), b = rng.floats(count), c = rng.floats(count)
            let ta = try backend.tensor(a, shape: [count]), tb = try backend.tensor(b, shape: [count])
            let tout = try backend.makeTensor([count])
            try backend.fill(tout, with: .nan)
            try backend.multiply(ta, tb, out: tout, accumulate: false)
            let ta2 = try backend.tensor(a, shape: [count])
            try backend.multiply(ta2, tb, out: ta2, accumulate: false)
            let tacc = try backend.tensor(c, shape: [count])
            try backend.multiply(ta, tb, out: tacc, accumulate: true)
            let product = zip(a, b).map { Double($0) * Double($1) }
            let accumulated = zip(product, c).map { $0 + Double($1) }
            let tol = Tolerance(reductionLength: 1)
            return [Comparison.compare("multiply", actual: try backend.read(tout), expected: product, tolerance: tol),
                    Comparison.compare("multiply in place", actual: try backend.read(ta2), expected: product, tolerance: tol),
                    Comparison.compare("multiply accumulate", actual: try backend.read(tacc), expected: accumulated, tolerance: tol)]
        }
    }

    public static func cases() -> [EquivalenceCase] {
        var out: [EquivalenceCase] = []
        for act in BiasActivation.allCases {
            for (i, s) in shapes.enumerated() {
                for backward in [false, true] {
                    out.append(biasActivationCase(act, rows: s.rows, cols: s.cols, backward: backward, quick: i < 2))
                }
            }
            out.append(biasActivationCase(act, rows: 33, cols: 17, backward: false, hasBias: false, inPlace: true, quick: true))
            out.append(biasActivationCase(act, rows: 33, cols: 17, backward: true, hasBias: false, inPlace: true))
            out.append(biasActivationCase(act, rows: 17, cols: 65, backward: true, inPlace: true))
            out.append(biasActivationCase(act, rows: 0, cols: 5, backward: true))
        }
        for n in [1, 3, 255, 257, 4099] { out.append(vectorCase(count: n, quick: n == 3)) }
        for n in [1, 7, 129, 4099] { out.append(multiplyCase(count: n, quick: n == 7)) }
        return out
    }
}
