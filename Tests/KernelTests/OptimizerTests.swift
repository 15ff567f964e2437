import ARMMTGPU
import Foundation
import XCTest

final class OptimizerTests: XCTestCase {
    static func allCases() -> [EquivalenceCase] {
        let s = MiscTestSupport.sizes
        var cases = OptimizerChecks.cases()
        for (i, n) in s.enumerated() {
            cases.append(OptimizerChecks.adamW(count: n, step: 1 + i * 3, weightDecay: i % 2 == 0 ? 0.01 : 0,
                                               scale: i % 3 == 0 ? 0.3 : nil))
        }
        cases.append(OptimizerChecks.gradientNorm(counts: s, maxNorm: 1))
        cases.append(OptimizerChecks.gradientNorm(counts: s.map { $0 * 1000 + 1 }, maxNorm: 1e6))
        return cases
    }

    func testCPUMatchesDoubleReference() {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: CPUBackend()), 50)
    }

    func testOpenCLMatchesDoubleReference() throws {
        XCTAssertGreaterThan(MiscTestSupport.assertPass(Self.allCases(), on: try MiscTestSupport.openCL()), 50)
    }

    private func backends() throws -> [Backend] {
        var out: [Backend] = [CPUBackend()]
        if !OpenCLInventory.shared.devices.isEmpty { out.append(try MiscTestSupport.openCL()) }
        return out
    }

    /// Clipping + AdamW over several steps through the public API, against the textbook
    /// formulas written out here in Double (not the engine's reference code).
    func testSeveralStepsMatchHandComputedDouble() throws {
        let counts = [5, 33], steps = 6
        let lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-6, wd = 0.05, maxNorm = 2.0
        var rng = SeededRandom(seed: 5)
        let p0 = counts.map { rng.floats($0) }
        let grads = (0..<steps).map { s in counts.map { rng.floats($0, -Double(s + 1) * 0.3, Double(s + 1) * 0.3) } }

        // Hand-computed reference.
        var p = p0.map { $0.map(Double.init) }
        var m = counts.map { [Double](repeating: 0, count: $0) }, v = m
        for s in 0..<steps {
            let g = grads[s].map { $0.map(Double.init) }
            let norm = g.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
            let clip = min(1, maxNorm / (norm + 1e-6))
            let t = Double(s + 1)
            for i in counts.indices {
                for j in 0..<counts[i] {
                    let gj = g[i][j] * clip
                    m[i][j] = b1 * m[i][j] + (1 - b1) * gj
                    v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj
                    let mHat = m[i][j] / (1 - pow(b1, t)), vHat = v[i][j] / (1 - pow(b2, t))
                    p[i][j] -= lr * (mHat / (vHat.squareRoot() + eps) + wd * p[i][j])
                }
            }
        }

        for b in try backends() {
            let tp = try zip(p0, counts).map { try b.tensor($0.0, shape: [$0.1]) }
            let tm = try counts.map { c -> Tensor in let t = try b.makeTensor([c]); try b.fill(t, with: 0); return t }
            let tv = try counts.map { c -> Tensor in let t = try b.makeTensor([c]); try b.fill(t, with: 0); return t }
            let norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
            for s in 0..<steps {
                let tg = try zip(grads[s], counts).map { try b.tensor($0.0, shape: [$0.1]) }
                try b.gradientNorm(tg, maxNorm: Float(maxNorm), norm: norm, clipScale: scale)
                let params = AdamWParameters(learningRate: Float(lr), beta1: Float(b1), beta2: Float(b2), epsilon: Float(eps),
                                             weightDecay: Float(wd), step: s + 1)
                for i in counts.indices {
                    try b.adamW(params, parameter: tp[i], gradient: tg[i], m: tm[i], v: tv[i], gradientScale: scale)
                }
            }
            for i in counts.indices {
                for (name, got, want) in [("p", tp[i], p[i]), ("m", tm[i], m[i]), ("v", tv[i], v[i])] {
                    let c = Comparison.compare("\(name)\(i)", actual: try b.read(got), expected: want,
                                               tolerance: Tolerance(reductionLength: steps))
                    XCTAssert(c.passed, "\(b.name) \(name)\(i)[\(c.firstFailure ?? -1)] off by \(c.worstRatio)× the tolerance")
                }
            }
        }
    }

    /// Compares with torch.optim.AdamW + clip_grad_norm_ run by Tests/Scripts/adamw_torch.py;
    /// skips when python3 or torch is missing.
    func testMatchesTorchAdamW() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/adamw_torch.py")
        let counts = [7, 65, 129], steps = 5
        let lr: Float = 3e-3, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8, wd: Float = 0.01, maxNorm: Float = 1.5
        var rng = SeededRandom(seed: 2024)
        let p0 = counts.map { rng.floats($0) }
        let grads = (0..<steps).map { _ in counts.map { rng.floats($0, -0.4, 0.4) } }
        let input: [String: Any] = [
            "params": p0.map { $0.map(Double.init) }, "grads": grads.map { $0.map { $0.map(Double.init) } },
            "lr": Double(lr), "beta1": Double(b1), "beta2": Double(b2), "eps": Double(eps),
            "weight_decay": Double(wd), "max_norm": Double(maxNorm),
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw XCTSkip("cannot run python3: \(error)") }
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: input))
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 3 || process.terminationStatus == 127 {
            throw XCTSkip("python3 with torch is not available (exit \(process.terminationStatus))")
        }
        XCTAssertEqual(process.terminationStatus, 0, "adamw_torch.py failed")
        guard let out = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let tParams = out["params"] as? [[Double]], let tM = out["m"] as? [[Double]], let tV = out["v"] as? [[Double]],
              let tNorms = out["norms"] as? [Double] else {
            return XCTFail("unreadable output from adamw_torch.py: \(String(decoding: data, as: UTF8.self).prefix(200))")
        }

        for b in try backends() {
            let tp = try zip(p0, counts).map { try b.tensor($0.0, shape: [$0.1]) }
            let tm = try counts.map { c -> Tensor in let t = try b.makeTensor([c]); try b.fill(t, with: 0); return t }
            let tv = try counts.map { c -> Tensor in let t = try b.makeTensor([c]); try b.fill(t, with: 0); return t }
            let norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
            var norms: [Float] = []
            for s in 0..<steps {
                let tg = try zip(grads[s], counts).map { try b.tensor($0.0, shape: [$0.1]) }
                try b.gradientNorm(tg, maxNorm: maxNorm, norm: norm, clipScale: scale)
                norms.append(try b.read(norm)[0])
                let params = AdamWParameters(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, step: s + 1)
                for i in counts.indices {
                    try b.adamW(params, parameter: tp[i], gradient: tg[i], m: tm[i], v: tv[i], gradientScale: scale)
                }
            }
            let total = counts.reduce(0, +)
            var comparisons = [Comparison.compare("norms", actual: norms, expected: tNorms, tolerance: Tolerance(reductionLength: total))]
            for i in counts.indices {
                let tol = Tolerance(reductionLength: steps)
                comparisons.append(Comparison.compare("p\(i)", actual: try b.read(tp[i]), expected: tParams[i], tolerance: tol))
                comparisons.append(Comparison.compare("m\(i)", actual: try b.read(tm[i]), expected: tM[i], tolerance: tol))
                comparisons.append(Comparison.compare("v\(i)", actual: try b.read(tv[i]), expected: tV[i], tolerance: tol))
            }
            for c in comparisons {
                XCTAssert(c.passed, "\(b.name) vs torch: \(c.tensor)[\(c.firstFailure ?? -1)] off by \(c.worstRatio)× the tolerance")
            }
        }
    }

    func testGradientNormKnownValuesAndNaN() throws {
        for b in try backends() {
            let a = try b.tensor([3], shape: [1]), c = try b.tensor([4, 0], shape: [2])
            let norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
            try b.gradientNorm([a, c], maxNorm: 1, norm: norm, clipScale: scale)
            XCTAssertEqual(try b.read(norm), [5], b.name)
            XCTAssertEqual(try b.read(scale)[0], 1 / (5 + 1e-6), accuracy: 1e-7, b.name)
            try b.gradientNorm([a, c], maxNorm: 10, norm: norm, clipScale: scale)
            XCTAssertEqual(try b.read(scale), [1], b.name)
            try b.gradientNorm([a, c], maxNorm: .infinity, norm: norm, clipScale: scale)
            XCTAssertEqual(try b.read(scale), [1], b.name)
            try b.gradientNorm([], maxNorm: 1, norm: norm, clipScale: scale)
            XCTAssertEqual(try b.read(norm) + b.read(scale), [0, 1], b.name)
            // A NaN gradient must not be hidden by the clamp: norm and scale are NaN.
            let bad = try b.tensor([1, .nan, 2], shape: [3])
            try b.gradientNorm([a, bad], maxNorm: 1, norm: norm, clipScale: scale)
            XCTAssert(try b.read(norm)[0].isNaN && b.read(scale)[0].isNaN, b.name)
        }
    }

    /// The CPU backend's AdamW (sixteen lanes under AVX-512, eight under AVX2, elements split over
    /// cores) gives the bits of the scalar `OptimizerReference.adamW` under both vector units
    /// (AVX-512 where the host has it), serial and parallel, on counts that are not multiples of
    /// 8 or 16 and counts large enough to split, with ±0, huge and tiny values, ±∞ and NaN among
    /// the gradients and parameters.
    func testCPUAdamWGivesTheReferenceBits() throws {
        var rng = SeededRandom(seed: 23)
        let specials: [Float] = [0, -0, 1e30, -1e30, 1e-30, .infinity, -.infinity, .nan]
        for (i, n) in [1, 7, 8, 9, 15, 16, 17, 255, 1001, 70_003].enumerated() {
            var param = rng.floats(n, -2, 2), grad = rng.floats(n, -1, 1)
            let m0 = rng.floats(n, -0.1, 0.1), v0 = rng.floats(n, 0, 0.1)
            for (j, e) in specials.enumerated() where n > 8 {
                grad[(j * 7919 + 3) % n] = e
                param[(j * 104_729 + 5) % n] = e
            }
            let p = AdamWParameters(learningRate: 3e-3, weightDecay: i % 2 == 0 ? 0.01 : 0, step: 1 + 5 * i)
            let scale: Float = i % 3 == 0 ? 0.37 : 1
            var rp = param, rm = m0, rv = v0
            OptimizerReference.adamW(p, parameter: &rp, gradient: grad, m: &rm, v: &rv, count: n, gradientScale: scale)
            let units: [CPUVectorUnit] = CPUVectorUnit.hostHasAVX512 ? [.avx2, .avx512] : [.avx2]
            for unit in units {
                for parallel in [false, true] {
                    try CPUVectorUnit.with(unit) {
                        let b = CPUBackend(parallel: parallel)
                        let tp = try b.tensor(param, shape: [n]), tg = try b.tensor(grad, shape: [n])
                        let tm = try b.tensor(m0, shape: [n]), tv = try b.tensor(v0, shape: [n])
                        try b.adamW(p, parameter: tp, gradient: tg, m: tm, v: tv, gradientScale: try b.tensor([scale], shape: [1]))
                        for (name, t, want) in [("parameter", tp, rp), ("m", tm, rm), ("v", tv, rv)] {
                            XCTAssertEqual(try b.read(t).map(\.bitPattern), want.map(\.bitPattern),
                                           "n=\(n) \(unit) parallel \(parallel): \(name)")
                        }
                    }
                }
            }
        }
    }

    /// The CPU backend's gradient norm (a block's eight chains as one vector, blocks split over
    /// cores) gives the bits of the reference's per-tensor blocked sums added in tensor order,
    /// serial and parallel, with tensors that are empty, shorter than a block, a block and one
    /// element long, and long enough that a core's range of blocks crosses from one tensor to the
    /// next. The square root can map neighbouring sums to one norm, so forty more single-tensor
    /// cases of lengths on and off the block size make an order difference show.
    func testCPUGradientNormGivesTheReferenceBits() throws {
        var rng = SeededRandom(seed: 29)
        var cases = [[0, 1, 255, 257, 2048, 2049, 70_000, 3, 40_001].map { rng.floats($0, -3, 3) }]
        for i in 0..<40 { cases.append([rng.floats(i % 4 == 0 ? 256 * (1 + i) : 1 + rng.index(3000), -3, 3)]) }
        for (c, tensors) in cases.enumerated() {
            var total: Float = 0
            for t in tensors { total += OptimizerReference.sumOfSquares(t, count: t.count) }
            for parallel in [false, true] {
                let b = CPUBackend(parallel: parallel)
                let norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
                try b.gradientNorm(try tensors.map { try b.tensor($0, shape: [$0.count]) }, maxNorm: 1, norm: norm, clipScale: scale)
                XCTAssertEqual(try b.read(norm)[0].bitPattern, total.squareRoot().bitPattern, "case \(c) parallel \(parallel)")
            }
        }
    }

    func testOpenCLGradientNormIsDeterministic() throws {
        let b = try MiscTestSupport.openCL()
        var rng = SeededRandom(seed: 8)
        let tensors = try [300_001, 17, 70_000].map { try b.tensor(rng.floats($0, -3, 3), shape: [$0]) }
        var bits: [UInt32] = []
        for _ in 0..<3 {
            let norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
            try b.gradientNorm(tensors, maxNorm: 1, norm: norm, clipScale: scale)
            bits.append(try b.read(norm)[0].bitPattern)
        }
        XCTAssertEqual(Set(bits).count, 1)
    }

    func testValidationErrorsNameTheTensor() throws {
        let b = CPUBackend()
        let x = try b.makeTensor([4]), one = try b.makeTensor([1])
        MiscTestSupport.assertUsageError("maxNorm 0.0 must be > 0") {
            try b.gradientNorm([x], maxNorm: 0, norm: one, clipScale: one)
        }
        MiscTestSupport.assertUsageError("gradient norm output: expected 1 elements") {
            try b.gradientNorm([x], maxNorm: 1, norm: try b.makeTensor([2]), clipScale: one)
        }
        MiscTestSupport.assertUsageError("gradient norm tensor 1: expected a float32 tensor") {
            try b.gradientNorm([x, try b.makeTensor([2], dtype: .int32)], maxNorm: 1, norm: one, clipScale: one)
        }
        let p = AdamWParameters(learningRate: 1e-3, step: 1)
        MiscTestSupport.assertUsageError("adamw m: expected 4 elements") {
            try b.adamW(p, parameter: x, gradient: x, m: try b.makeTensor([3]), v: x, gradientScale: nil)
        }
        MiscTestSupport.assertUsageError("adamw gradientScale: expected 1 elements") {
            try b.adamW(p, parameter: x, gradient: x, m: x, v: x, gradientScale: try b.makeTensor([2]))
        }
        MiscTestSupport.assertUsageError("step 0 must be ≥ 1") {
            try b.adamW(AdamWParameters(learningRate: 1e-3, step: 0), parameter: x, gradient: x, m: x, v: x, gradientScale: nil)
        }
        MiscTestSupport.assertUsageError("beta1 1.0 outside [0, 1)") {
            try b.adamW(AdamWParameters(learningRate: 1e-3, beta1: 1, step: 1), parameter: x, gradient: x, m: x, v: x,
                        gradientScale: nil)
        }
    }
}
