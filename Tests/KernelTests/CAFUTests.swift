import ARMMTGPU
import XCTest

final class CAFUTests: XCTestCase {
    typealias S = NormFamilyTestSupport

    private struct Values {
        var x, mask, context, w1, b1, w2, b2: [Double]
    }

    /// L = Σ wr ⊙ r + Σ wa ⊙ α.
    private func loss(_ p: CAFUParameters, _ v: Values, wr: [Double], wa: [Double]) -> Double {
        var r = [Double](repeating: 0, count: p.items * p.width)
        var alpha = [Double](repeating: 0, count: p.items * p.modalities * p.gateWidth)
        var hp = [Double](repeating: 0, count: p.items * p.hidden)
        CAFUReference.forward(p, x: v.x, mask: v.mask, context: v.context, w1: v.w1, b1: v.b1, w2: v.w2, b2: v.b2,
                              r: &r, alpha: &alpha, hiddenPre: &hp)
        return zip(r, wr).reduce(0) { $0 + $1.0 * $1.1 } + zip(alpha, wa).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Every gradient of the Double reference against central differences, both gates, with
    /// absent modalities (item 1 has none) and with and without dAlpha.
    func testFiniteDifferenceGradients() {
        for gate in CAFUGate.allCases {
            for withDAlpha in [false, true] {
                let p = CAFUParameters(items: 5, modalities: 2, width: 3, contextWidth: 2, hidden: 4, gate: gate)
                let f = CAFUChecks.inputs(p, seed: 21)
                // Absent vectors are NaN in the checks; here they must be finite for the differences.
                let v = Values(x: f.x.map { $0.isNaN ? 0.7 : Double($0) }, mask: f.mask.map(Double.init),
                               context: f.context.map(Double.init), w1: f.w1.map(Double.init), b1: f.b1.map(Double.init),
                               w2: f.w2.map(Double.init), b2: f.b2.map(Double.init))
                XCTAssertTrue(v.mask[2...3].allSatisfy { $0 == 0 }, "item 1 has no modality")
                XCTAssertTrue(v.mask.contains(1) && v.mask.filter { $0 == 0 }.count > 2, "some other modality absent")
                let wr = S.random(p.items * p.width, seed: 22)
                let wa = withDAlpha ? S.random(p.items * p.modalities * p.gateWidth, seed: 23)
                                    : [Double](repeating: 0, count: p.items * p.modalities * p.gateWidth)
                var r = [Double](repeating: 0, count: p.items * p.width)
                var alpha = [Double](repeating: 0, count: p.items * p.modalities * p.gateWidth)
                var hp = [Double](repeating: 0, count: p.items * p.hidden)
                CAFUReference.forward(p, x: v.x, mask: v.mask, context: v.context, w1: v.w1, b1: v.b1, w2: v.w2, b2: v.b2,
                                      r: &r, alpha: &alpha, hiddenPre: &hp)
                XCTAssertTrue(r[3..<6].allSatisfy { $0 == 0 } && alpha.allSatisfy { $0.isFinite }, "no modality: r = 0, no NaN")
                var dx = [Double](repeating: .nan, count: p.items * p.modalities * p.width)
                var dc = [Double](repeating: .nan, count: p.items * p.contextWidth)
                var dw1 = [Double](repeating: .nan, count: p.hidden * p.inputWidth), db1 = [Double](repeating: .nan, count: p.hidden)
                var dw2 = [Double](repeating: .nan, count: p.gateRows * p.hidden), db2 = [Double](repeating: .nan, count: p.gateRows)
                wa.withUnsafeBufferPointer { pwa in
                    CAFUReference.backward(p, dr: wr, dAlpha: withDAlpha ? pwa.baseAddress! : nil, x: v.x, mask: v.mask,
                                           context: v.context, w1: v.w1, w2: v.w2, alpha: alpha, hiddenPre: hp,
                                           dx: &dx, dContext: &dc, dW1: &dw1, db1: &db1, dW2: &dw2, db2: &db2)
                }
                let tag = "\(gate) dAlpha=\(withDAlpha)"
                let base = v
                func check(_ analytic: [Double], _ path: WritableKeyPath<Values, [Double]>, _ name: String) {
                    let numeric = S.numericGradient(base[keyPath: path]) { values in
                        var w = base
                        w[keyPath: path] = values
                        return loss(p, w, wr: wr, wa: wa)
                    }
                    S.assertClose(analytic, numeric, "\(tag) \(name)")
                }
                check(dx, \.x, "dx")
                check(dc, \.context, "dContext")
                check(dw1, \.w1, "dW1")
                check(db1, \.b1, "db1")
                check(dw2, \.w2, "dW2")
                check(db2, \.b2, "db2")
            }
        }
    }

    func testCPUBackendMatchesReference() {
        S.assertCases(CAFUChecks.cases(), on: CPUBackend())
    }

    func testOpenCLMatchesReference() throws {
        S.assertCases(CAFUChecks.cases(), on: try S.openCL())
    }

    /// The model's default sizes (N = 256·32, d = 64, dc = 128, H = 64), forward and backward, once per gate on OpenCL.
    func testOpenCLDefaultSize() throws {
        let b = try S.openCL()
        for gate in CAFUGate.allCases {
            let p = CAFUParameters(items: 8192, gate: gate)
            S.assertCases([CAFUChecks.forwardCase(p), CAFUChecks.backwardCase(p, withDAlpha: false)], on: b)
        }
    }

    /// Two backward runs give identical bits (several item blocks in the weight-gradient sums).
    func testOpenCLBackwardIsDeterministic() throws {
        let b = try S.openCL()
        for gate in CAFUGate.allCases {
            let p = CAFUParameters(items: 2049, width: 16, contextWidth: 24, hidden: 32, gate: gate)
            let v = CAFUChecks.inputs(p, seed: 9)
            let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, g = p.gateRows
            let alphaShape = gate == .scalar ? [n, m] : [n, m, d]
            let tx = try b.tensor(v.x, shape: [n, m, d]), tm = try b.tensor(v.mask, shape: [n, m]), tc = try b.tensor(v.context, shape: [n, dc])
            let tw1 = try b.tensor(v.w1, shape: [h, d + dc]), tb1 = try b.tensor(v.b1, shape: [h])
            let tw2 = try b.tensor(v.w2, shape: [g, h]), tb2 = try b.tensor(v.b2, shape: [g])
            let tr = try b.makeTensor([n, d]), ta = try b.makeTensor(alphaShape), th = try b.makeTensor([n, h])
            try b.cafuForward(p, x: tx, mask: tm, context: tc, w1: tw1, b1: tb1, w2: tw2, b2: tb2, r: tr, alpha: ta, hiddenPre: th)
            let tdr = try b.tensor(v.dr, shape: [n, d]), tda = try b.tensor(v.dAlpha, shape: alphaShape)
            var runs: [[Float]] = []
            for _ in 0..<2 {
                let dx = try b.makeTensor([n, m, d]), dcx = try b.makeTensor([n, dc]), dw1 = try b.makeTensor([h, d + dc])
                let db1 = try b.makeTensor([h]), dw2 = try b.makeTensor([g, h]), db2 = try b.makeTensor([g])
                try b.cafuBackward(p, dr: tdr, dAlpha: tda, x: tx, mask: tm, context: tc, w1: tw1, w2: tw2, alpha: ta, hiddenPre: th,
                                   dx: dx, dContext: dcx, dW1: dw1, db1: db1, dW2: dw2, db2: db2)
                runs.append(try b.read(dw1) + b.read(db1) + b.read(dw2) + b.read(db2) + b.read(dx) + b.read(dcx))
            }
            XCTAssertEqual(runs[0], runs[1], "\(gate) backward not deterministic")
            XCTAssertTrue(runs[0].allSatisfy { $0.isFinite }, "\(gate) backward produced non-finite values")
        }
    }

    /// The model's default sizes on the CPU backend, where its fast path runs on every core.
    func testCPUDefaultSize() {
        for gate in CAFUGate.allCases {
            let p = CAFUParameters(items: 8192, gate: gate)
            S.assertCases([CAFUChecks.forwardCase(p), CAFUChecks.backwardCase(p, withDAlpha: true)], on: CPUBackend())
        }
    }

    /// The scalar gate's fused AVX-512 forward (hidden ≤ 64, modalities ≤ 16) at and past its
    /// limits, where the other path takes over: every tile height and hidden-vector count, a
    /// 256-item block plus a partial one, and one modality up to seventeen.
    func testCPUScalarGateForwardAroundTheFusedLimits() {
        var cases: [EquivalenceCase] = []
        for (m, h) in [(1, 1), (3, 16), (3, 47), (5, 33), (16, 64), (16, 65), (17, 64), (2, 65)] {
            let p = CAFUParameters(items: 263, modalities: m, width: 19, contextWidth: 21, hidden: h, gate: .scalar)
            cases.append(CAFUChecks.forwardCase(p))
        }
        S.assertCases(cases, on: CPUBackend())
    }

    /// The CPU backend's parallel fast path sums db1, db2 in a fixed chunk order: two runs and
    /// a single-threaded run give identical bits for every output.
    func testCPUParallelIsDeterministic() throws {
        for gate in CAFUGate.allCases {
            let p = CAFUParameters(items: 4099, width: 16, contextWidth: 24, hidden: 32, gate: gate)
            let v = CAFUChecks.inputs(p, seed: 9)
            let n = p.items, m = p.modalities, d = p.width, dc = p.contextWidth, h = p.hidden, g = p.gateRows
            let alphaShape = gate == .scalar ? [n, m] : [n, m, d]
            func run(_ b: CPUBackend) throws -> [[UInt32]] {
                let tx = try b.tensor(v.x, shape: [n, m, d]), tm = try b.tensor(v.mask, shape: [n, m]), tc = try b.tensor(v.context, shape: [n, dc])
                let tw1 = try b.tensor(v.w1, shape: [h, d + dc]), tb1 = try b.tensor(v.b1, shape: [h])
                let tw2 = try b.tensor(v.w2, shape: [g, h]), tb2 = try b.tensor(v.b2, shape: [g])
                let tr = try b.makeTensor([n, d]), ta = try b.makeTensor(alphaShape), th = try b.makeTensor([n, h])
                try b.cafuForward(p, x: tx, mask: tm, context: tc, w1: tw1, b1: tb1, w2: tw2, b2: tb2, r: tr, alpha: ta, hiddenPre: th)
                let tdr = try b.tensor(v.dr, shape: [n, d]), tda = try b.tensor(v.dAlpha, shape: alphaShape)
                let dx = try b.makeTensor([n, m, d]), dcx = try b.makeTensor([n, dc]), dw1 = try b.makeTensor([h, d + dc])
                let db1 = try b.makeTensor([h]), dw2 = try b.makeTensor([g, h]), db2 = try b.makeTensor([g])
                try b.cafuBackward(p, dr: tdr, dAlpha: tda, x: tx, mask: tm, context: tc, w1: tw1, w2: tw2, alpha: ta, hiddenPre: th,
                                   dx: dx, dContext: dcx, dW1: dw1, db1: db1, dW2: dw2, db2: db2)
                return try [tr, ta, th, dx, dcx, dw1, db1, dw2, db2].map { try b.read($0).map(\.bitPattern) }
            }
            let first = try run(CPUBackend()), second = try run(CPUBackend()), serial = try run(CPUBackend(parallel: false))
            for (i, name) in ["r", "alpha", "hiddenPre", "dx", "dContext", "dW1", "db1", "dW2", "db2"].enumerated() {
                XCTAssertEqual(first[i], second[i], "\(gate) \(name) differs between runs")
                XCTAssertEqual(first[i], serial[i], "\(gate) \(name) differs between parallel and serial")
            }
        }
    }

    func testValidationErrors() throws {
        for backend in [CPUBackend() as Backend] + ((try? S.openCL()).map { [$0 as Backend] } ?? []) {
            let p = CAFUParameters(items: 4, modalities: 2, width: 3, contextWidth: 5, hidden: 6, gate: .vector)
            let x = try backend.makeTensor([4, 2, 3]), mask = try backend.makeTensor([4, 2]), ctx = try backend.makeTensor([4, 5])
            let w1 = try backend.makeTensor([6, 8]), b1 = try backend.makeTensor([6])
            let w2 = try backend.makeTensor([6, 6]), b2 = try backend.makeTensor([6])
            let r = try backend.makeTensor([4, 3]), alpha = try backend.makeTensor([4, 2, 3]), hp = try backend.makeTensor([4, 6])
            let scalarW2 = try backend.makeTensor([2, 6])
            S.assertUsageError(mentioning: "cafu w2") {
                try backend.cafuForward(p, x: x, mask: mask, context: ctx, w1: w1, b1: b1, w2: scalarW2, b2: b2, r: r, alpha: alpha, hiddenPre: hp)
            }
            S.assertUsageError(mentioning: "cafu alpha") {
                try backend.cafuForward(p, x: x, mask: mask, context: ctx, w1: w1, b1: b1, w2: w2, b2: b2, r: r, alpha: mask, hiddenPre: hp)
            }
            S.assertUsageError(mentioning: "cafu dContext") {
                try backend.cafuBackward(p, dr: r, dAlpha: nil, x: x, mask: mask, context: ctx, w1: w1, w2: w2, alpha: alpha, hiddenPre: hp,
                                         dx: x, dContext: r, dW1: w1, db1: b1, dW2: w2, db2: b2)
            }
            S.assertUsageError(mentioning: "cafu dAlpha") {
                try backend.cafuBackward(p, dr: r, dAlpha: mask, x: x, mask: mask, context: ctx, w1: w1, w2: w2, alpha: alpha, hiddenPre: hp,
                                         dx: x, dContext: ctx, dW1: w1, db1: b1, dW2: w2, db2: b2)
            }
        }
    }
}
