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
