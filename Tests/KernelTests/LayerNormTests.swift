import ARMMTGPU
import XCTest

final class LayerNormTests: XCTestCase {
    typealias S = NormFamilyTestSupport

    /// Σ w ⊙ LayerNorm(x; γ, β) in Double.
    private func loss(rows: Int, d: Int, x: [Double], gamma: [Double], beta: [Double], w: [Double]) -> Double {
        var y = [Double](repeating: 0, count: rows * d), mean = [Double](repeating: 0, count: rows), rstd = mean
        LayerNormReference.forward(rows: rows, d: d, epsilon: 1e-5, x: x, gamma: gamma, beta: beta, y: &y, mean: &mean, rstd: &rstd)
        return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
    }

    func testFiniteDifferenceGradients() {
        for (rows, d) in [(3, 5), (2, 1), (4, 2), (2, 17)] {
            let seed = UInt64(rows * 100 + d)
            let x = S.random(rows * d, seed: seed, -2, 2), gamma = S.random(d, seed: seed + 1, 0.5, 1.5)
            let beta = S.random(d, seed: seed + 2), w = S.random(rows * d, seed: seed + 3)
            var y = [Double](repeating: 0, count: rows * d), mean = [Double](repeating: 0, count: rows), rstd = mean
            LayerNormReference.forward(rows: rows, d: d, epsilon: 1e-5, x: x, gamma: gamma, beta: beta, y: &y, mean: &mean, rstd: &rstd)
            var dx = [Double](repeating: .nan, count: rows * d), dg = [Double](repeating: .nan, count: d), db = dg
            LayerNormReference.backward(rows: rows, d: d, dy: w, x: x, gamma: gamma, mean: mean, rstd: rstd,
                                        dx: &dx, dGamma: &dg, dBeta: &db)
            S.assertClose(dx, S.numericGradient(x) { loss(rows: rows, d: d, x: $0, gamma: gamma, beta: beta, w: w) }, "dx \(rows)x\(d)")
            S.assertClose(dg, S.numericGradient(gamma) { loss(rows: rows, d: d, x: x, gamma: $0, beta: beta, w: w) }, "dGamma \(rows)x\(d)")
            S.assertClose(db, S.numericGradient(beta) { loss(rows: rows, d: d, x: x, gamma: gamma, beta: $0, w: w) }, "dBeta \(rows)x\(d)")
        }
    }

    func testCPUBackendMatchesReference() {
        S.assertCases(LayerNormChecks.cases(), on: CPUBackend())
    }

    func testOpenCLMatchesReference() throws {
        S.assertCases(LayerNormChecks.cases(), on: try S.openCL())
    }

    /// The backward is deterministic: two runs give identical bits.
    func testOpenCLBackwardIsDeterministic() throws {
        let b = try S.openCL()
        let rows = 3000, d = 48
        let p = LayerNormParameters(rows: rows, features: d)
        let x = try b.tensor(S.random(rows * d, seed: 5).map(Float.init), shape: [rows, d])
        let dy = try b.tensor(S.random(rows * d, seed: 6).map(Float.init), shape: [rows, d])
        let g = try b.tensor([Float](repeating: 1.25, count: d), shape: [d]), be = try b.tensor([Float](repeating: 0, count: d), shape: [d])
        let y = try b.makeTensor([rows, d]), m = try b.makeTensor([rows]), r = try b.makeTensor([rows])
        try b.layerNormForward(p, x: x, gamma: g, beta: be, y: y, mean: m, rstd: r)
        var results: [[Float]] = []
        for _ in 0..<2 {
            let dx = try b.makeTensor([rows, d]), dg = try b.makeTensor([d]), db = try b.makeTensor([d])
            try b.layerNormBackward(p, dy: dy, x: x, gamma: g, mean: m, rstd: r, dx: dx, dGamma: dg, dBeta: db)
            results.append(try b.read(dg) + b.read(db) + b.read(dx))
        }
        XCTAssertEqual(results[0], results[1])
    }

    /// The CPU backend's parallel backward sums dγ, dβ in a fixed chunk order: two runs and a
    /// single-threaded run give identical bits (forward too).
    func testCPUParallelIsDeterministic() throws {
        let rows = 3001, d = 67
        let p = LayerNormParameters(rows: rows, features: d)
        func run(_ b: CPUBackend) throws -> [[UInt32]] {
            let x = try b.tensor(S.random(rows * d, seed: 5, -3, 3).map(Float.init), shape: [rows, d])
            let dy = try b.tensor(S.random(rows * d, seed: 6).map(Float.init), shape: [rows, d])
            let g = try b.tensor(S.random(d, seed: 7, 0.5, 1.5).map(Float.init), shape: [d])
            let be = try b.tensor(S.random(d, seed: 8).map(Float.init), shape: [d])
            let y = try b.makeTensor([rows, d]), m = try b.makeTensor([rows]), r = try b.makeTensor([rows])
            let dx = try b.makeTensor([rows, d]), dg = try b.makeTensor([d]), db = try b.makeTensor([d])
            try b.layerNormForward(p, x: x, gamma: g, beta: be, y: y, mean: m, rstd: r)
            try b.layerNormBackward(p, dy: dy, x: x, gamma: g, mean: m, rstd: r, dx: dx, dGamma: dg, dBeta: db)
            return try [y, m, r, dx, dg, db].map { try b.read($0).map(\.bitPattern) }
        }
        let first = try run(CPUBackend()), second = try run(CPUBackend()), serial = try run(CPUBackend(parallel: false))
        for (i, name) in ["y", "mean", "rstd", "dx", "dGamma", "dBeta"].enumerated() {
            XCTAssertEqual(first[i], second[i], "\(name) differs between runs")
            XCTAssertEqual(first[i], serial[i], "\(name) differs between parallel and serial")
        }
    }

    func testValidationErrors() throws {
        for backend in [CPUBackend() as Backend] + ((try? S.openCL()).map { [$0 as Backend] } ?? []) {
            let p = LayerNormParameters(rows: 4, features: 8)
            let x = try backend.makeTensor([4, 8]), g = try backend.makeTensor([8]), bad = try backend.makeTensor([7])
            let y = try backend.makeTensor([4, 8]), m = try backend.makeTensor([4]), r = try backend.makeTensor([4])
            S.assertUsageError(mentioning: "layernorm gamma") {
                try backend.layerNormForward(p, x: x, gamma: bad, beta: g, y: y, mean: m, rstd: r)
            }
            S.assertUsageError(mentioning: "layernorm rstd") {
                try backend.layerNormForward(p, x: x, gamma: g, beta: g, y: y, mean: m, rstd: bad)
            }
            S.assertUsageError(mentioning: "layernorm dBeta") {
                try backend.layerNormBackward(p, dy: y, x: x, gamma: g, mean: m, rstd: r, dx: y, dGamma: g, dBeta: bad)
            }
            let ints = try backend.makeTensor([4, 8], dtype: .int32)
            S.assertUsageError(mentioning: "layernorm x") {
                try backend.layerNormForward(p, x: ints, gamma: g, beta: g, y: y, mean: m, rstd: r)
            }
            S.assertUsageError(mentioning: "d ≥ 1") {
                try backend.layerNormForward(LayerNormParameters(rows: 4, features: 0), x: x, gamma: g, beta: g, y: y, mean: m, rstd: r)
            }
        }
    }
}
