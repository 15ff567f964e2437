import ARMMTGPU
import XCTest

final class LossTests: XCTestCase {
    static func allCases() -> [EquivalenceCase] {
        let s = MiscTestSupport.sizes
        var cases = LossChecks.cases()
        for (i, r) in s.enumerated() {
            cases.append(LossChecks.bce(rows: r, targets: 1 + i % 3))
            cases.append(LossChecks.listwise(lists: s[(i + 4) % s.count], length: r, targets: 1 + i % 2))
        }
        cases.append(LossChecks.bce(rows: 129, targets: 2, validFraction: 0.02))
        cases.append(LossChecks.listwise(lists: 64, length: 1, targets: 1))
        return cases
    }

    func testCPUMatchesDoubleReference() {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: CPUBackend()), 80)
    }

    func testOpenCLMatchesDoubleReference() throws {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: try MiscTestSupport.openCL()), 80)
    }

    // MARK: finite differences of the Double reference

    func testBCEGradientMatchesFiniteDifferences() {
        let rows = 6, targets = 2, lw = 3, column = 1
        var rng = SeededRandom(seed: 3)
        let x = (0..<rows * targets).map { _ in rng.uniform(-3, 3) }
        // Graded labels (2 counts as positive) and a label column offset.
        let y: [Double] = [0, 1, 0, 2, 0, 1, 0, 0, 0, 1, 1, 2, 0, 0, 1, 3, 0, 0]
        let mask: [Double] = [1, 0, 1, 1, 0, 1]
        let w: [Double] = [0.7, 1.3]
        func run(_ x: [Double]) -> (loss: Double, grad: [Double]) {
            var l = [Double](repeating: 0, count: targets), g = [Double](repeating: 0, count: rows * targets)
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in mask.withUnsafeBufferPointer { pm in
                w.withUnsafeBufferPointer { pw in l.withUnsafeMutableBufferPointer { pl in g.withUnsafeMutableBufferPointer { pg in
                    LossReference.bce(logits: px.baseAddress!, labels: py.baseAddress!, labelWidth: lw, labelColumn: column,
                                      rowMask: pm.baseAddress!, weights: pw.baseAddress!, rows: rows, targets: targets,
                                      losses: pl.baseAddress!, dLogits: pg.baseAddress!)
                } } }
            } } }
            return (zip(l, w).reduce(0) { $0 + $1.0 * $1.1 }, g)
        }
        assertFiniteDifferences(x, run)
    }

    func testListwiseGradientMatchesFiniteDifferences() {
        // 4 lists of 5 slots, 2 targets: padded tails, a list with no positive for target 0,
        // a list of length 1, graded labels.
        let lists = 4, length = 5, targets = 2
        var rng = SeededRandom(seed: 11)
        let x = (0..<lists * length * targets).map { _ in rng.uniform(-3, 3) }
        let mask: [Double] = [1, 1, 1, 0, 0,  1, 1, 1, 1, 1,  1, 0, 0, 0, 0,  1, 1, 1, 0, 0]
        var y = [Double](repeating: 0, count: lists * length * targets)
        func label(_ b: Int, _ k: Int, _ t: Int, _ v: Double) { y[(b * length + k) * targets + t] = v }
        label(0, 0, 0, 2); label(0, 2, 0, 1); label(0, 1, 1, 1)
        label(1, 3, 1, 3); label(1, 4, 1, 1)              // list 1: no positive for target 0
        label(2, 0, 0, 1); label(2, 0, 1, 2)              // list 2: length 1
        label(3, 1, 0, 1); label(3, 3, 0, 3); label(3, 2, 1, 1)  // slot 3 is padding: ignored
        let w: [Double] = [1.5, 0.5]
        func run(_ x: [Double]) -> (loss: Double, grad: [Double]) {
            var l = [Double](repeating: 0, count: targets), g = [Double](repeating: 0, count: x.count)
            var skipped = [Int32](repeating: 0, count: targets)
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in mask.withUnsafeBufferPointer { pm in
                w.withUnsafeBufferPointer { pw in l.withUnsafeMutableBufferPointer { pl in g.withUnsafeMutableBufferPointer { pg in
                    skipped.withUnsafeMutableBufferPointer { ps in
                        LossReference.listwise(logits: px.baseAddress!, labels: py.baseAddress!, labelWidth: targets,
                                               labelColumn: 0, mask: pm.baseAddress!, weights: pw.baseAddress!,
                                               lists: lists, length: length, targets: targets, losses: pl.baseAddress!,
                                               skipped: ps.baseAddress!, dLogits: pg.baseAddress!)
                    }
                } } }
            } } }
            XCTAssertEqual(skipped, [1, 0])
            return (zip(l, w).reduce(0) { $0 + $1.0 * $1.1 }, g)
        }
        assertFiniteDifferences(x, run)
        // Padding slots and the skipped list get exactly zero gradient.
        let g = run(x).grad
        for b in 0..<lists {
            for k in 0..<length where mask[b * length + k] == 0 {
                XCTAssertEqual(g[(b * length + k) * targets], 0)
                XCTAssertEqual(g[(b * length + k) * targets + 1], 0)
            }
        }
        for k in 0..<length { XCTAssertEqual(g[(1 * length + k) * targets], 0) }
    }

    private func assertFiniteDifferences(_ x: [Double], _ f: ([Double]) -> (loss: Double, grad: [Double]),
                                         file: StaticString = #filePath, line: UInt = #line) {
        let grad = f(x).grad
        let h = 1e-6
        var nonZero = 0
        for i in x.indices {
            var plus = x, minus = x
            plus[i] += h
            minus[i] -= h
            let fd = (f(plus).loss - f(minus).loss) / (2 * h)
            XCTAssertEqual(grad[i], fd, accuracy: 1e-6 * max(abs(fd), 1e-2), "dLogits[\(i)]", file: file, line: line)
            if grad[i] != 0 { nonZero += 1 }
        }
        XCTAssertGreaterThan(nonZero, x.count / 3, file: file, line: line)
    }

    // MARK: values and edge cases on both backends

    private func backends() throws -> [Backend] {
        var out: [Backend] = [CPUBackend()]
        if !OpenCLInventory.shared.devices.isEmpty { out.append(try MiscTestSupport.openCL()) }
        return out
    }

    func testBCEKnownValuesAndExtremeLogits() throws {
        for b in try backends() {
            let x = try b.tensor([0, 100, -100, 5], shape: [4, 1]), y = try b.tensor([1, 0, 0, 7], shape: [4, 1])
            let mask = try b.tensor([1, 1, 1, 0], shape: [4]), w = try b.tensor([2], shape: [1])
            let l = try b.makeTensor([1]), d = try b.makeTensor([4, 1])
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: mask, weights: w, losses: l, dLogits: d)
            XCTAssertEqual(try b.read(l)[0], Float((log(2.0) + 100) / 3), accuracy: 1e-5, b.name)
            let g = try b.read(d)
            XCTAssertEqual(g[0], 2 * -0.5 / 3, accuracy: 1e-6, b.name)
            XCTAssertEqual(g[1], 2 * 1.0 / 3, accuracy: 1e-6, b.name)
            XCTAssertEqual(g[2], 0, accuracy: 1e-6, b.name)
            XCTAssertEqual(g[3], 0, b.name)
        }
    }

    /// Confident, correct logits: every term is log1p(e^−|x|) ≈ e^−|x|, far below 1's rounding,
    /// so the loss keeps its relative accuracy only if log1p is computed as such (log(1 + e)
    /// would round it to 0).
    func testBCEConfidentCorrectLogitsKeepTheirTinyLoss() throws {
        for b in try backends() {
            let xs: [Float] = [20, -20, 25, -18, 30, 16.5, -22, 19, -17]
            let ys: [Float] = xs.map { $0 > 0 ? 1 : 0 }
            let x = try b.tensor(xs, shape: [xs.count, 1]), y = try b.tensor(ys, shape: [xs.count, 1])
            let mask = try b.tensor([Float](repeating: 1, count: xs.count), shape: [xs.count]), w = try b.tensor([1], shape: [1])
            let l = try b.makeTensor([1]), d = try b.makeTensor([xs.count, 1])
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: mask, weights: w, losses: l, dLogits: d)
            let want = xs.map { log1p(exp(-abs(Double($0)))) }.reduce(0, +) / Double(xs.count)
            XCTAssertEqual(Double(try b.read(l)[0]), want, accuracy: 1e-5 * want, b.name)
        }
    }

    func testListwiseKnownValues() throws {
        for b in try backends() {
            // List 0: equal logits, gains 3 and 1 → p = (0.75, 0.25), loss log 2.
            // List 1: length 1 with a positive → loss 0, gradient 0. List 2: no positive → skipped.
            let x = try b.tensor([0, 0, 9, 4, 1, 1], shape: [3, 2]), y = try b.tensor([2, 1, 1, 0, 0, 0], shape: [3, 2])
            let mask = try b.tensor([1, 1, 1, 0, 1, 1], shape: [3, 2]), w = try b.tensor([1], shape: [1])
            let l = try b.makeTensor([1]), d = try b.makeTensor([3, 2]), s = try b.makeTensor([1], dtype: .int32)
            try b.listwiseSoftmaxCrossEntropy(logits: x, labels: y, labelColumn: 0, mask: mask, weights: w,
                                              losses: l, skipped: s, dLogits: d)
            XCTAssertEqual(try b.read(l)[0], Float(log(2.0) / 2), accuracy: 1e-6, b.name)
            XCTAssertEqual(try b.readInt32(s), [1], b.name)
            let g = try b.read(d)
            XCTAssertEqual(g[0], (0.5 - 0.75) / 2, accuracy: 1e-6, b.name)
            XCTAssertEqual(g[1], (0.5 - 0.25) / 2, accuracy: 1e-6, b.name)
            XCTAssertEqual(Array(g[2...]), [0, 0, 0, 0], b.name)
        }
    }

    /// No valid row, or no list with a positive: losses and gradients are 0, never NaN.
    func testEmptyBatchesGiveZerosNotNaN() throws {
        for b in try backends() {
            let x = try b.tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]), y = try b.tensor([1, 1, 1, 1, 1, 1], shape: [3, 2])
            let none = try b.tensor([0, 0, 0], shape: [3]), w = try b.tensor([1, 1], shape: [2])
            let l = try b.makeTensor([2]), d = try b.makeTensor([3, 2])
            try b.fill(l, with: .nan)
            try b.fill(d, with: .nan)
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: none, weights: w, losses: l, dLogits: d)
            XCTAssertEqual(try b.read(l), [0, 0], b.name)
            XCTAssertEqual(try b.read(d), [0, 0, 0, 0, 0, 0], b.name)

            let masked = try b.tensor([0, 0, 0, 0, 0, 0], shape: [3, 2])
            let noPositive = try b.tensor([0, 0, 0, 0, 0, 0], shape: [3, 2]), one = try b.tensor([1], shape: [1])
            for (labels, mask) in [(y, masked), (noPositive, try b.tensor([1, 1, 1, 1, 1, 1], shape: [3, 2]))] {
                let ll = try b.makeTensor([1]), dd = try b.makeTensor([3, 2]), s = try b.makeTensor([1], dtype: .int32)
                try b.fill(ll, with: .nan)
                try b.fill(dd, with: .nan)
                try b.listwiseSoftmaxCrossEntropy(logits: x, labels: labels, labelColumn: 0, mask: mask, weights: one,
                                                  losses: ll, skipped: s, dLogits: dd)
                XCTAssertEqual(try b.read(ll), [0], b.name)
                XCTAssertEqual(try b.readInt32(s), [3], b.name)
                XCTAssertEqual(try b.read(dd), [0, 0, 0, 0, 0, 0], b.name)
            }
            // Zero rows at all.
            let e = try b.makeTensor([0, 2])
            try b.bceWithLogits(logits: e, labels: e, labelColumn: 0, rowMask: try b.makeTensor([0]), weights: w,
                                losses: l, dLogits: e)
            XCTAssertEqual(try b.read(l), [0, 0], b.name)
        }
    }

    func testOpenCLLossesAreDeterministic() throws {
        let b = try MiscTestSupport.openCL()
        var rng = SeededRandom(seed: 99)
        let lists = 200, length = 50
        let x = try b.tensor(rng.floats(lists * length * 2, -5, 5), shape: [lists, length, 2])
        let y = try b.tensor((0..<lists * length * 2).map { _ in rng.unit() < 0.2 ? 1 : 0 }, shape: [lists, length, 2])
        let mask = try b.tensor((0..<lists * length).map { _ in rng.unit() < 0.9 ? 1 : 0 }, shape: [lists, length])
        let w = try b.tensor([1, 0.3], shape: [2])
        var runs: [[UInt32]] = []
        for _ in 0..<2 {
            let l1 = try b.makeTensor([2]), d1 = try b.makeTensor([lists * length, 2])
            let l2 = try b.makeTensor([2]), d2 = try b.makeTensor([lists, length, 2]), s = try b.makeTensor([2], dtype: .int32)
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: try b.tensor(try b.read(mask), shape: [lists * length]),
                                weights: w, losses: l1, dLogits: d1)
            try b.listwiseSoftmaxCrossEntropy(logits: x, labels: y, labelColumn: 0, mask: mask, weights: w,
                                              losses: l2, skipped: s, dLogits: d2)
            runs.append((try b.read(l1) + b.read(d1) + b.read(l2) + b.read(d2)).map(\.bitPattern))
        }
        XCTAssertEqual(runs[0], runs[1])
    }

    func testValidationErrorsNameTheTensor() throws {
        let b = CPUBackend()
        let x = try b.makeTensor([4, 2]), y = try b.makeTensor([4, 2]), mask = try b.makeTensor([4])
        let w = try b.makeTensor([2]), l = try b.makeTensor([2]), d = try b.makeTensor([4, 2])
        MiscTestSupport.assertUsageError("bce logits: expected shape [4, 3]") {
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: mask, weights: try b.makeTensor([3]),
                                losses: try b.makeTensor([3]), dLogits: d)
        }
        MiscTestSupport.assertUsageError("bce labels: expected shape [4, L] with L ≥ 3") {
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 1, rowMask: mask, weights: w, losses: l, dLogits: d)
        }
        MiscTestSupport.assertUsageError("bce dLogits") {
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: mask, weights: w, losses: l,
                                dLogits: try b.makeTensor([4]))
        }
        MiscTestSupport.assertUsageError("bce losses") {
            try b.bceWithLogits(logits: x, labels: y, labelColumn: 0, rowMask: mask, weights: w, losses: try b.makeTensor([1]),
                                dLogits: d)
        }
        let lm = try b.makeTensor([2, 2]), ll = try b.makeTensor([1]), s = try b.makeTensor([1], dtype: .int32)
        let lx = try b.makeTensor([2, 2]), one = try b.makeTensor([1])
        MiscTestSupport.assertUsageError("listwise mask: expected shape [B, K]") {
            try b.listwiseSoftmaxCrossEntropy(logits: lx, labels: lx, labelColumn: 0, mask: try b.makeTensor([4]), weights: one,
                                              losses: ll, skipped: s, dLogits: lx)
        }
        MiscTestSupport.assertUsageError("listwise skipped: expected a int32 tensor") {
            try b.listwiseSoftmaxCrossEntropy(logits: lx, labels: lx, labelColumn: 0, mask: lm, weights: one,
                                              losses: ll, skipped: try b.makeTensor([1]), dLogits: lx)
        }
        MiscTestSupport.assertUsageError("listwise logits: expected shape [2, 2, 1]") {
            try b.listwiseSoftmaxCrossEntropy(logits: try b.makeTensor([2, 3]), labels: lx, labelColumn: 0, mask: lm,
                                              weights: one, losses: ll, skipped: s, dLogits: lx)
        }
    }
}
