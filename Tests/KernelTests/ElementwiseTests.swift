import ARMMTGPU
import XCTest

final class ElementwiseTests: XCTestCase {
    typealias S = NormFamilyTestSupport

    func testFiniteDifferenceGradients() {
        let rows = 3, cols = 5
        for act in BiasActivation.allCases {
            let p = BiasActivationParameters(act, rows: rows, cols: cols)
            let x = S.random(rows * cols, seed: 11, -3, 3), bias = S.random(cols, seed: 12), w = S.random(rows * cols, seed: 13)
            func loss(_ x: [Double], _ bias: [Double]) -> Double {
                var y = [Double](repeating: 0, count: rows * cols)
                ElementwiseReference.biasActivationForward(p, x: x, bias: bias, y: &y)
                return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
            }
            var dx = [Double](repeating: .nan, count: rows * cols), db = [Double](repeating: .nan, count: cols)
            db.withUnsafeMutableBufferPointer { pdb in
                ElementwiseReference.biasActivationBackward(p, dy: w, x: x, bias: bias, dx: &dx, dBias: pdb.baseAddress!)
            }
            S.assertClose(dx, S.numericGradient(x) { loss($0, bias) }, "\(act) dx")
            S.assertClose(db, S.numericGradient(bias) { loss(x, $0) }, "\(act) dBias")
        }
    }

    /// GELU against x·Φ(x) from Python's math.erf (12 digits), the values PyTorch's exact `gelu` gives.
    func testGELUKnownValues() {
        let xs: [Double] = [-3, -1, -0.5, 0, 0.5, 1, 2]
        let expected: [Double] = [-0.004049694095, -0.158655253931, -0.154268769363, 0, 0.345731230637, 0.841344746069, 1.954499736104]
        var y = [Double](repeating: 0, count: xs.count)
        ElementwiseReference.biasActivationForward(BiasActivationParameters(.gelu, rows: 1, cols: xs.count), x: xs, bias: nil, y: &y)
        for i in xs.indices { XCTAssertEqual(y[i], expected[i], accuracy: 1e-9, "gelu(\(xs[i]))") }
    }

    func testCPUBackendMatchesReference() {
        S.assertCases(ElementwiseChecks.cases(), on: CPUBackend())
    }

    func testOpenCLMatchesReference() throws {
        S.assertCases(ElementwiseChecks.cases(), on: try S.openCL())
    }

    /// The CPU backend's parallel backward sums dBias in a fixed chunk order: two runs and a
    /// single-threaded run give identical bits.
    func testCPUParallelIsDeterministic() throws {
        let rows = 4099, cols = 37
        for act in BiasActivation.allCases {
            let p = BiasActivationParameters(act, rows: rows, cols: cols)
            func run(_ b: CPUBackend) throws -> [[UInt32]] {
                let x = try b.tensor(S.random(rows * cols, seed: 21, -4, 4).map(Float.init), shape: [rows, cols])
                let bias = try b.tensor(S.random(cols, seed: 22).map(Float.init), shape: [cols])
                let dy = try b.tensor(S.random(rows * cols, seed: 23).map(Float.init), shape: [rows, cols])
                let y = try b.makeTensor([rows, cols]), dx = try b.makeTensor([rows, cols]), db = try b.makeTensor([cols])
                try b.biasActivationForward(p, x: x, bias: bias, y: y)
                try b.biasActivationBackward(p, dy: dy, x: x, bias: bias, dx: dx, dBias: db)
                return try [y, dx, db].map { try b.read($0).map(\.bitPattern) }
            }
            let first = try run(CPUBackend()), second = try run(CPUBackend()), serial = try run(CPUBackend(parallel: false))
            for (i, name) in ["y", "dx", "dBias"].enumerated() {
                XCTAssertEqual(first[i], second[i], "\(act) \(name) differs between runs")
                XCTAssertEqual(first[i], serial[i], "\(act) \(name) differs between parallel and serial")
            }
        }
    }

    /// The CPU fast path against the Double reference at the model's shape, where every part
    /// of it (full 8-lane blocks, many reduction chunks, all cores) is exercised.
    func testCPUFastPathAtModelShape() {
        var cases: [EquivalenceCase] = []
        for act in BiasActivation.allCases {
            for backward in [false, true] {
                cases.append(ElementwiseChecks.biasActivationCase(act, rows: 2048, cols: 256, backward: backward))
            }
        }
        S.assertCases(cases, on: CPUBackend())
    }

    func testValidationErrors() throws {
        for backend in [CPUBackend() as Backend] + ((try? S.openCL()).map { [$0 as Backend] } ?? []) {
            let p = BiasActivationParameters(.gelu, rows: 4, cols: 8)
            let x = try backend.makeTensor([4, 8]), bias = try backend.makeTensor([8]), bad = try backend.makeTensor([9])
            S.assertUsageError(mentioning: "bias+gelu bias") { try backend.biasActivationForward(p, x: x, bias: bad, y: x) }
            S.assertUsageError(mentioning: "bias+gelu y") { try backend.biasActivationForward(p, x: x, bias: bias, y: bad) }
            S.assertUsageError(mentioning: "bias+gelu dBias") {
                try backend.biasActivationBackward(p, dy: x, x: x, bias: bias, dx: x, dBias: bad)
            }
            S.assertUsageError(mentioning: "add b") { try backend.residualAdd(x, bad, out: x) }
            S.assertUsageError(mentioning: "accumulate x") { try backend.accumulate(bad, into: x) }
            S.assertUsageError(mentioning: "scaleAdd x") { try backend.scaleAdd(alpha: 2, x: bad, y: x) }
        }
    }
}
