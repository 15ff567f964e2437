/// Equivalence cases for `Backend.cafuForward` / `cafuBackward`.
///
/// Tolerance reduction lengths follow the chain of sums feeding each output: hiddenPre
/// d + dc (+ M for the mean pool); α and r add the H-long second layer (and M for r);
/// per-item gradients (dx, dContext) the d-, G-, H- and (d + dc)-long sums of the backward
/// chain; weight gradients add the N-long sum over items.
public enum CAFUChecks {
    public struct Shape: Sendable {
        public var items, width, contextWidth, hidden: Int
        public var modalities = 2
    }

    /// Covering set: every dimension meets the awkward sizes somewhere, not as a product.
    public static let shapes: [Shape] = [
        Shape(items: 3, width: 2, contextWidth: 3, hidden: 5),
        Shape(items: 4, width: 3, contextWidth: 2, hidden: 7),
        Shape(items: 17, width: 16, contextWidth: 15, hidden: 31),
        Shape(items: 33, width: 31, contextWidth: 33, hidden: 16),
        Shape(items: 65, width: 64, contextWidth: 1, hidden: 17),
        Shape(items: 7, width: 1, contextWidth: 63, hidden: 33),
        Shape(items: 129, width: 17, contextWidth: 127, hidden: 63),
        Shape(items: 5, width: 65, contextWidth: 129, hidden: 64),
        Shape(items: 15, width: 7, contextWidth: 0, hidden: 3),
        Shape(items: 31, width: 33, contextWidth: 16, hidden: 65, modalities: 3),
        Shape(items: 300, width: 64, contextWidth: 128, hidden: 64),
    ]

    /// Seeded inputs. The mask makes item 1 have no modality present and about a quarter of the
    /// other (item, modality) pairs absent; absent vectors hold NaN, so reading one shows up.
    public struct Inputs {
        public var x, mask, context, w1, b1, w2, b2, dr, dAlpha: [Float]
    }

    public static func inputs(_ p: CAFUParameters, seed: UInt64) -> Inputs {
        var rng = SeededRandom(seed: seed &+ UInt64(p.items * 7919 + p.width * 131 + p.hidden))
        let n = p.items, m = p.modalities, d = p.width, k = p.inputWidth, g = p.gateRows, h = p.hidden
        var mask = [Float](repeating: 1, count: n * m)
        for i in 0..<n {
            for mm in 0..<m where i == 1 || rng.unit() < 0.25 { mask[i * m + mm] = 0 }
        }
        var x = rng.floats(n * m * d)
        for i in 0..<(n * m) where mask[i] == 0 { for j in 0..<d { x[i * d + j] = .nan } }
        let s1 = 1.5 / Double(k).squareRoot(), s2 = 2.5 / Double(h).squareRoot()
        return Inputs(x: x, mask: mask, context: rng.floats(n * p.contextWidth),
                      w1: rng.floats(h * k, -s1, s1), b1: rng.floats(h, -0.3, 0.3),
                      w2: rng.floats(g * h, -s2, s2), b2: rng.floats(g, -0.5, 0.5),
                      dr: rng.floats(n * d), dAlpha: rng.floats(n * m * p.gateWidth))
    }

    /// Double reference forward: (r, alpha, hiddenPre).
    public static func referenceForward(_ p: CAFUParameters, _ v: Inputs) -> (r: [Double], alpha: [Double], hiddenPre: [Double]) {
        let dd = { (a: [Float]) in a.map(Double.init) }
        var r = [Double](repeating: 0, count: p.items * p.width)
        var alpha = [Double](repeating: 0, count: p.items * p.modalities * p.gateWidth)
        var hp = [Double](repeating: 0, count: p.items * p.hidden)
        CAFUReference.forward(p, x: dd(v.x), mask: dd(v.mask), context: dd(v.context), w1: dd(v.w1), b1: dd(v.b1),
                              w2: dd(v.w2), b2: dd(v.b2), r: &r, alpha: &alpha, hiddenPre: &hp)
        return (r, alpha, hp)
    }

    static func describe(_ p: CAFUParameters) -> String {
        "\(p.gate.rawValue) N=\(p.items) M=\(p.modalities) d=\(p.width) dc=\(p.contextWidth) H=\(p.hidden)"
    }

    public static func forwardCase(_ p: CAFUParameters, seed: UInt64 = 5, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "cafu", shape: "fwd " + describe(p), quick: quick) { backend in
            let v = inputs(p, seed: seed)
            let n = p.items
            let tx = try backend.tensor(v.x, shape: [n, p.modalities, p.width]), tm = try backend.tensor(v.mask, shape: [n, p.modalities])
            let tc = try backend.tensor(v.context, shape: [n, p.contextWidth])
            let tw1 = try backend.tensor(v.w1, shape: [p.hidden, p.inputWidth]), tb1 = try backend.tensor(v.b1, shape: [p.hidden])
            let tw2 = try backend.tensor(v.w2, shape: [p.gateRows, p.hidden]), tb2 = try backend.tensor(v.b2, shape: [p.gateRows])
            let tr = try backend.makeTensor([n, p.width]), ta = try backend.makeTensor(p.alphaShape)
            let th = try backend.makeTensor([n, p.hidden])
            for t in [tr, ta, th] { try backend.fill(t, with: .nan) }
            try backend.cafuForward(p, x: tx, mask: tm, context: tc, w1: tw1, b1: tb1, w2: tw2, b2: tb2, r: tr, alpha: ta, hiddenPre: th)
            let ref = referenceForward(p, v)
            let k = p.inputWidth + p.modalities
            return [Comparison.compare("hiddenPre", actual: try backend.read(th), expected: ref.hiddenPre, tolerance: Tolerance(reductionLength: k)),
                    Comparison.compare("alpha", actual: try backend.read(ta), expected: ref.alpha, tolerance: Tolerance(reductionLength: k + p.hidden)),
                    Comparison.compare("r", actual: try backend.read(tr), expected: ref.r,
                                       tolerance: Tolerance(reductionLength: k + p.hidden + p.modalities))]
        }
    }

    /// The backward gets the reference forward's alpha and hiddenPre (rounded to float).
    public static func backwardCase(_ p: CAFUParameters, withDAlpha: Bool, seed: UInt64 = 6, quick: Bool = false) -> EquivalenceCase {
        EquivalenceCase(op: "cafu", shape: "bwd " + describe(p) + (withDAlpha ? " +dAlpha" : ""), quick: quick) { backend in
            let v = inputs(p, seed: seed)
            let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, k = p.inputWidth, g = p.gateRows
            let ref = referenceForward(p, v)
            let tx = try backend.tensor(v.x, shape: [n, m, d]), tm = try backend.tensor(v.mask, shape: [n, m])
            let tc = try backend.tensor(v.context, shape: [n, dc])
            let tw1 = try backend.tensor(v.w1, shape: [h, k]), tw2 = try backend.tensor(v.w2, shape: [g, h])
            let ta = try backend.tensor(ref.alpha.map { Float($0) }, shape: p.alphaShape)
            let th = try backend.tensor(ref.hiddenPre.map { Float($0) }, shape: [n, h])
            let tdr = try backend.tensor(v.dr, shape: [n, d])
            let tda = withDAlpha ? try backend.tensor(v.dAlpha, shape: p.alphaShape) : nil
            let tdx = try backend.makeTensor([n, m, d]), tdc = try backend.makeTensor([n, dc])
            let tdw1 = try backend.makeTensor([h, k]), tdb1 = try backend.makeTensor([h])
            let tdw2 = try backend.makeTensor([g, h]), tdb2 = try backend.makeTensor([g])
            for t in [tdx, tdc, tdw1, tdb1, tdw2, tdb2] { try backend.fill(t, with: .nan) }
            try backend.cafuBackward(p, dr: tdr, dAlpha: tda, x: tx, mask: tm, context: tc, w1: tw1, w2: tw2, alpha: ta,
                                     hiddenPre: th, dx: tdx, dContext: tdc, dW1: tdw1, db1: tdb1, dW2: tdw2, db2: tdb2)

            let dd = { (a: [Float]) in a.map(Double.init) }
            var edx = [Double](repeating: 0, count: n * m * d), edc = [Double](repeating: 0, count: n * dc)
            var edw1 = [Double](repeating: 0, count: h * k), edb1 = [Double](repeating: 0, count: h)
            var edw2 = [Double](repeating: 0, count: g * h), edb2 = [Double](repeating: 0, count: g)
            let dAlpha = dd(v.dAlpha)
            dAlpha.withUnsafeBufferPointer { pda in
                CAFUReference.backward(p, dr: dd(v.dr), dAlpha: withDAlpha ? pda.baseAddress! : nil, x: dd(v.x), mask: dd(v.mask),
                                       context: dd(v.context), w1: dd(v.w1), w2: dd(v.w2), alpha: ref.alpha, hiddenPre: ref.hiddenPre,
                                       dx: &edx, dContext: &edc, dW1: &edw1, db1: &edb1, dW2: &edw2, db2: &edb2)
            }
            let perItem = Tolerance(reductionLength: d + g + h + k)
            let perWeight = Tolerance(reductionLength: n + d + g + h + k)
            return [Comparison.compare("dx", actual: try backend.read(tdx), expected: edx, tolerance: perItem),
                    Comparison.compare("dContext", actual: try backend.read(tdc), expected: edc, tolerance: perItem),
                    Comparison.compare("dW1", actual: try backend.read(tdw1), expected: edw1, tolerance: perWeight),
                    Comparison.compare("db1", actual: try backend.read(tdb1), expected: edb1, tolerance: perWeight),
                    Comparison.compare("dW2", actual: try backend.read(tdw2), expected: edw2, tolerance: perWeight),
                    Comparison.compare("db2", actual: try backend.read(tdb2), expected: edb2, tolerance: perWeight)]
        }
    }

    public static func cases() -> [EquivalenceCase] {
        var out: [EquivalenceCase] = []
        for (i, s) in shapes.enumerated() {
            for gate in CAFUGate.allCases {
                let p = CAFUParameters(items: s.items, modalities: s.modalities, width: s.width, contextWidth: s.contextWidth,
                                       hidden: s.hidden, gate: gate)
                out.append(forwardCase(p, quick: i < 2))
                out.append(backwardCase(p, withDAlpha: i % 2 == 1, quick: i < 2))
            }
        }
        for gate in CAFUGate.allCases {
            let empty = CAFUParameters(items: 0, width: 5, contextWidth: 3, hidden: 4, gate: gate)
            out.append(forwardCase(empty))
            out.append(backwardCase(empty, withDAlpha: false))
        }
        return out
    }
}
