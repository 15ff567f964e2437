import CAVX512
import XCTest
@testable import ARMMTGPU

/// The AVX-512 kernels of `CAVX512` against the Swift AVX2 loops they replace on an AVX-512 host,
/// and the fast paths that call them run under both vector units. The AVX-512 tests skip on a
/// host without AVX-512 (they could not run there); the AVX2 runs work everywhere.
final class CPUVectorUnitTests: XCTestCase {
    private func requireAVX512() throws {
        if !CPUVectorUnit.hostHasAVX512 { throw XCTSkip("this CPU has no AVX-512") }
    }

    /// `armmt_avx512_gemm` against a Double product, on widths that are not multiples of 16 or
    /// 64 (masked last vector, 1–4 vector panels), row counts around every tile height, k = 0
    /// and 1, A plain and transposed, C with a wider row stride: results within the tolerance
    /// rule, and the columns and rows outside C never written (they hold NaN before and after).
    func testAVX512GemmMatchesDoubleOnAwkwardShapes() throws {
        try requireAVX512()
        var rng = SeededRandom(seed: 31)
        var checked = 0
        for m in [1, 2, 5, 6, 7, 11, 12, 13, 25, 65] {
            for n in [1, 3, 15, 16, 17, 33, 48, 63, 64, 65, 129] {
                for k in [0, 1, 7, 16, 50] {
                    let transposed = (m + n + k) % 2 == 1
                    let a = rng.floats(max(m * k, 1)), b = rng.floats(max(k * (n + 3), 1))
                    let ldb = n + 3, ldc = n + 5
                    var c = [Float](repeating: .nan, count: (m + 1) * ldc)
                    let (lda, acs) = transposed ? (1, m) : (k, 1)
                    c.withUnsafeMutableBufferPointer { armmt_avx512_gemm(m, n, k, a, lda, acs, b, ldb, $0.baseAddress, ldc) }
                    var expected = [Double](repeating: 0, count: m * n), actual = [Float](repeating: 0, count: m * n)
                    for r in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for l in 0..<k { s += Double(a[r * lda + l * acs]) * Double(b[l * ldb + j]) }
                            expected[r * n + j] = s
                            actual[r * n + j] = c[r * ldc + j]
                        }
                        for j in n..<ldc { XCTAssertTrue(c[r * ldc + j].isNaN, "m=\(m) n=\(n) k=\(k): column \(j) of row \(r) written") }
                    }
                    for j in 0..<ldc { XCTAssertTrue(c[m * ldc + j].isNaN, "m=\(m) n=\(n) k=\(k): row \(m) written") }
                    let cmp = Comparison.compare("C", actual: actual, expected: expected, tolerance: Tolerance(reductionLength: k))
                    XCTAssertTrue(cmp.passed, "m=\(m) n=\(n) k=\(k) transposed=\(transposed): \(cmp.worstRatio)× the tolerance")
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 550)
    }

    /// `armmt_avx512_gemm_concat` with A cut into two blocks held in separate buffers (CAFU's
    /// [z ⊕ context] read in place) gives the bits of one product over the whole A: each element
    /// is the same FMA chain. Every cut point, A plain and transposed.
    func testAVX512GemmConcatSameBitsAsOneOperand() throws {
        try requireAVX512()
        var rng = SeededRandom(seed: 33)
        for (m, n, k) in [(13, 65, 9), (6, 64, 7), (25, 17, 12), (1, 130, 5)] {
            let b = rng.floats(k * n)
            for transposed in [false, true] {
                let a = rng.floats(m * k)
                let (lda, acs) = transposed ? (1, m) : (k, 1)
                var whole = [Float](repeating: .nan, count: m * n)
                whole.withUnsafeMutableBufferPointer { armmt_avx512_gemm(m, n, k, a, lda, acs, b, n, $0.baseAddress, n) }
                for k1 in 0...k {
                    // A1 = columns 0..<k1 of A, A2 = the rest, each copied into its own buffer.
                    var a1 = [Float](repeating: 0, count: max(m * k1, 1)), a2 = [Float](repeating: 0, count: max(m * (k - k1), 1))
                    for r in 0..<m {
                        for l in 0..<k {
                            let v = a[r * lda + l * acs]
                            if l < k1 { a1[transposed ? l * m + r : r * k1 + l] = v } else { a2[transposed ? (l - k1) * m + r : r * (k - k1) + l - k1] = v }
                        }
                    }
                    let (lda1, acs1) = transposed ? (1, m) : (k1, 1), (lda2, acs2) = transposed ? (1, m) : (k - k1, 1)
                    var c = [Float](repeating: .nan, count: m * n)
                    c.withUnsafeMutableBufferPointer {
                        armmt_avx512_gemm_concat(m, n, k1, a1, lda1, acs1, k - k1, a2, lda2, acs2, b, n, $0.baseAddress, n)
                    }
                    XCTAssertEqual(c.map(\.bitPattern), whole.map(\.bitPattern), "m=\(m) n=\(n) k=\(k) k1=\(k1) transposed=\(transposed)")
                }
            }
        }
    }

    /// Past one reduction block (256) the kernel stores each chain in C and resumes it in the next
    /// block: the bits must still be those of one FMA chain in l order from 0,
    /// `armmt_avx512_gemm_add`'s those of one chain from C's old value and
    /// `armmt_avx512_gemm_bias`'s from the bias; `armmt_avx512_gemm_rows_scaled` multiplies a
    /// row's chain (from C's old value) by its factor once, after the last block. Checked
    /// against a scalar chain at k just under, at and past one and two blocks, A plain and
    /// transposed.
    func testAVX512GemmLongReductionIsOneFMAChain() throws {
        try requireAVX512()
        var rng = SeededRandom(seed: 34)
        for (m, n, k) in [(7, 33, 255), (13, 64, 256), (6, 17, 257), (3, 70, 600), (1, 16, 1000)] {
            for transposed in [false, true] {
                let a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * n), bias = rng.floats(n)
                let factors = rng.floats(m)
                let (lda, acs) = transposed ? (1, m) : (k, 1)
                var product = [Float](repeating: .nan, count: m * n), sum = c0, biased = product, scaled = c0
                product.withUnsafeMutableBufferPointer { armmt_avx512_gemm(m, n, k, a, lda, acs, b, n, $0.baseAddress, n) }
                sum.withUnsafeMutableBufferPointer { armmt_avx512_gemm_add(m, n, k, a, lda, acs, b, n, $0.baseAddress, n) }
                biased.withUnsafeMutableBufferPointer { armmt_avx512_gemm_bias(m, n, k, a, lda, acs, b, n, bias, $0.baseAddress, n) }
                scaled.withUnsafeMutableBufferPointer {
                    armmt_avx512_gemm_rows_scaled(m, n, k, a, lda, acs, b, n, $0.baseAddress, n, 1, factors, 1)
                }
                for r in 0..<m {
                    for j in 0..<n {
                        var fromZero: Float = 0, fromC = c0[r * n + j], fromBias = bias[j]
                        for l in 0..<k {
                            fromZero = fromZero.addingProduct(a[r * lda + l * acs], b[l * n + j])
                            fromC = fromC.addingProduct(a[r * lda + l * acs], b[l * n + j])
                            fromBias = fromBias.addingProduct(a[r * lda + l * acs], b[l * n + j])
                        }
                        XCTAssertEqual(product[r * n + j].bitPattern, fromZero.bitPattern, "gemm m=\(m) n=\(n) k=\(k) transposed=\(transposed) at [\(r), \(j)]")
                        XCTAssertEqual(sum[r * n + j].bitPattern, fromC.bitPattern, "gemm_add m=\(m) n=\(n) k=\(k) transposed=\(transposed) at [\(r), \(j)]")
                        XCTAssertEqual(biased[r * n + j].bitPattern, fromBias.bitPattern, "gemm_bias m=\(m) n=\(n) k=\(k) transposed=\(transposed) at [\(r), \(j)]")
                        XCTAssertEqual(scaled[r * n + j].bitPattern, (factors[r] * fromC).bitPattern, "gemm_rows_scaled m=\(m) n=\(n) k=\(k) transposed=\(transposed) at [\(r), \(j)]")
                    }
                }
            }
        }
    }

    /// On the products attention makes (columns a multiple of 8, A plain or read transposed
    /// through its column stride), the AVX-512 kernel gives the bits of the Swift loops
    /// (`SmallGemm`, the AVX2 path): every element is the same chain of FMAs in the same order.
    func testSmallGemmSameBitsAsAVX512Gemm() throws {
        try requireAVX512()
        var rng = SeededRandom(seed: 32)
        for (m, nc, k) in [(52, 32, 16), (32, 16, 50), (3, 8, 1), (17, 24, 33), (1, 136, 7), (65, 40, 64), (7, 8, 0)] {
            for transposed in [false, true] {
                let a = rng.floats(max(m * k, 1)), b = rng.floats(max(k * nc, 1))
                let (lda, acs) = transposed ? (1, m) : (k, 1)
                var swift = [Float](repeating: .nan, count: m * nc), kernel = swift
                swift.withUnsafeMutableBufferPointer {
                    SmallGemm.multiply(m: m, columns: nc, k: k, a: a, lda: lda, aColumnStride: acs, b: b, ldb: nc,
                                       c: $0.baseAddress!, ldc: nc)
                }
                kernel.withUnsafeMutableBufferPointer { armmt_avx512_gemm(m, nc, k, a, lda, acs, b, nc, $0.baseAddress!, nc) }
                XCTAssertEqual(kernel.map(\.bitPattern), swift.map(\.bitPattern), "m=\(m) columns=\(nc) k=\(k) transposed=\(transposed)")
            }
        }
    }

    /// Scores Sᵀ [n4, lq8] with 5 in row 0 of every column (its maximum) and, in two columns of
    /// three, scores below it by the offsets where the exp's last steps differ in form: by 87–88
    /// (e^x at the bottom of the normal range, and the clamp at −87.33654), by far more (0), by a
    /// subnormal amount; the rest random. Also the Swift softmax of them: Pᵀ, lse and 1/Σ.
    private func softmaxEdgeCase(n: Int, n4: Int, lq8: Int, seed: UInt64)
        -> (scores: [Float], p: [Float], lse: [Float], inverseSum: [Float]) {
        var rng = SeededRandom(seed: seed)
        var scores = rng.floats(n4 * lq8, -3, 3)
        let offsets: [Float] = [-87.0, -87.2, -87.33654, -87.33655, -87.4, -87.9, -88.5, -100, -1e30,
                                -Float.leastNonzeroMagnitude, -1e-40, -0.0, -86.99]
        for c in 0..<lq8 {
            scores[c] = 5
            for (i, o) in offsets.enumerated() where c % 3 != 2 {
                scores[(1 + (i + c) % (n - 1)) * lq8 + c] = 5 + o
            }
        }
        var p = scores, lse = [Float](repeating: .nan, count: lq8), inverseSum = lse
        p.withUnsafeMutableBufferPointer { s in
            lse.withUnsafeMutableBufferPointer { l in
                inverseSum.withUnsafeMutableBufferPointer { i in
                    AttentionFastPath.softmaxColumns(s.baseAddress!, n: n, n4: n4, lq8: lq8, lse: l.baseAddress!,
                                                     inverseSum: i.baseAddress!)
                }
            }
        }
        return (scores, p, lse, inverseSum)
    }

    /// The AVX-512 softmax over keys (`armmt_avx512_softmax_columns`, then `armmt_avx512_add_log`
    /// for lse) gives the bits of the Swift loop lane for lane on `softmaxEdgeCase`'s scores;
    /// lq8 = 24 has an 8-lane last group.
    func testSoftmaxColumnsSameBitsAsSwift() throws {
        try requireAVX512()
        let n = 37, n4 = 40, lq8 = 24
        let swift = softmaxEdgeCase(n: n, n4: n4, lq8: lq8, seed: 77)
        var cS = swift.scores, cLSE = [Float](repeating: .nan, count: lq8), cSum = cLSE, cInv = cLSE
        armmt_avx512_softmax_columns(&cS, n, n4, lq8, &cLSE, &cSum, &cInv)
        armmt_avx512_add_log(lq8, &cLSE, cSum)
        // The edges are reached: probabilities at the bottom of the normal range, and exact zeros.
        XCTAssertTrue(cS.contains { $0 > 0 && $0 < 2e-38 } && cS.contains { $0 == 0 }, "the exp's edges are not reached")
        XCTAssertEqual(cS.map(\.bitPattern), swift.p.map(\.bitPattern), "Pᵀ")
        XCTAssertEqual(cLSE.map(\.bitPattern), swift.lse.map(\.bitPattern), "lse")
        XCTAssertEqual(cInv.map(\.bitPattern), swift.inverseSum.map(\.bitPattern), "1/Σ")
    }

    /// `armmt_avx512_exp_columns32`, the dh = 16 forward's exponentials (both 16-lane groups of a
    /// 32-lane row in one loop), with the max given: Pᵀ, Σ and 1/Σ have the bits of the Swift
    /// softmax, lse = max + log Σ too, on `softmaxEdgeCase`'s scores, for an odd and an even key
    /// count (the loop's one-row tail and none).
    func testExpColumnsSameBitsAsSwift() throws {
        try requireAVX512()
        let lq8 = 32
        for n in [37, 12] {
            let swift = softmaxEdgeCase(n: n, n4: (n + 3) / 4 * 4, lq8: lq8, seed: 79 + UInt64(n))
            var max = (0..<lq8).map { c in (0..<n).map { swift.scores[$0 * lq8 + c] }.max()! }
            var cS = swift.scores, cSum = [Float](repeating: .nan, count: lq8), cInv = cSum
            armmt_avx512_exp_columns32(&cS, n, max, &cSum, &cInv)
            armmt_avx512_add_log(lq8, &max, cSum)
            XCTAssertTrue(cS.contains { $0 > 0 && $0 < 2e-38 } && cS.contains { $0 == 0 }, "the exp's edges are not reached")
            XCTAssertEqual(cS[..<(n * lq8)].map(\.bitPattern), swift.p[..<(n * lq8)].map(\.bitPattern), "Pᵀ, n = \(n)")
            XCTAssertEqual(max.map(\.bitPattern), swift.lse.map(\.bitPattern), "lse, n = \(n)")
            XCTAssertEqual(cInv.map(\.bitPattern), swift.inverseSum.map(\.bitPattern), "1/Σ, n = \(n)")
        }
    }

    /// The backward's elementwise step (`armmt_avx512_probabilities_and_score_gradient`: P, D and
    /// dS) gives the bits of the Swift loop for x = s − lse across the whole range of the exp:
    /// far below it, at both clamps and just beside them, subnormal and zero x, and above 88.37626
    /// (∞, then the NaNs it makes in D and dS). Columns with lse = 0 put x exactly on the edges.
    func testScoreGradientStepSameBitsAsSwift() throws {
        try requireAVX512()
        // lq8 = 24: one group of 16 lanes and one of 8; lq8 = 32: both groups in one loop.
        for lq8 in [24, 32] {
            let n = 19, n4 = 20
            var rng = SeededRandom(seed: 78)
            let offsets: [Float] = [-1e30, -100, -88.5, -87.4, -87.33655, -87.33654, -87.2, -1e-40, -0.0, 0, 1e-40, 0.5,
                                    50, 88.37625, 88.37626, 88.3763, 89, 1e30]
            let lse = (0..<lq8).map { c in c % 4 == 0 ? 0 : Float(rng.uniform(-2, 2)) }
            var scores = rng.floats(n4 * lq8, -3, 3)
            for c in 0..<lq8 where c % 3 != 1 {
                for j in 0..<n { scores[j * lq8 + c] = lse[c] + offsets[(j + c) % offsets.count] }
            }
            let dP = rng.floats(n4 * lq8)
            var swiftS = scores, swiftDP = dP
            swiftS.withUnsafeMutableBufferPointer { s in
                swiftDP.withUnsafeMutableBufferPointer { d in
                    AttentionFastPath.probabilitiesAndScoreGradient(s.baseAddress!, d.baseAddress!, n: n, n4: n4,
                                                                    lq8: lq8, lse: lse)
                }
            }
            var cS = scores, cDP = dP
            armmt_avx512_probabilities_and_score_gradient(&cS, &cDP, n, n4, lq8, lse)
            XCTAssertTrue(cS.contains(.infinity) && cS.contains { $0 > 0 && $0 < 2e-38 } && cS.contains(0),
                          "the exp's edges are not reached")
            XCTAssertEqual(cS.map(\.bitPattern), swiftS.map(\.bitPattern), "P, lq8 = \(lq8)")
            XCTAssertEqual(cDP.map(\.bitPattern), swiftDP.map(\.bitPattern), "dS, lq8 = \(lq8)")
        }
    }

    /// Fused attention's CPU fast path gives the same bits under both units (its products are
    /// `SmallGemm`s, its softmax steps the same exp and log lane for lane), on a batch with an
    /// empty sample, padded keys, a length-1 list, query counts whose last group of lanes is
    /// 8 wide (Lq = 1, 7, 17), and query counts past the AVX-512 forward's 32-query blocks
    /// (Lq = 40, 65), with head dims that are not multiples of 16 or span two 64-column panels.
    /// dh = 16 has its own forward: its cases have query blocks of 1, 16, 17 and 33 queries and
    /// key counts on and beside its 12-key tiles.
    func testAttentionSameBitsUnderBothUnits() throws {
        try requireAVX512()
        for (lq, lk, dh) in [(32, 50, 16), (1, 1, 8), (7, 33, 24), (17, 5, 12), (40, 9, 20), (65, 50, 16), (5, 7, 72),
                             (1, 13, 16), (16, 24, 16), (17, 25, 16), (33, 12, 16)] {
            let x = AttentionChecks.Inputs.make(batch: 9, queryLength: lq, keyLength: lk, heads: 3, headDim: dh,
                                                masking: .withEmptySample, sources: .separate, seed: UInt64(lq * 100 + lk))
            func run(_ unit: CPUVectorUnit) throws -> [[UInt32]] {
                try CPUVectorUnit.with(unit) { try attentionOutputBits(x, on: CPUBackend()) }
            }
            let wide = try run(.avx512), narrow = try run(.avx2)
            for (i, name) in ["O", "lse", "dQ", "dK", "dV"].enumerated() {
                XCTAssertEqual(wide[i], narrow[i], "Lq=\(lq) Lk=\(lk) dh=\(dh): \(name) differs between AVX-512 and AVX2")
            }
        }
    }

    /// Bias + GELU gives the same bits under both units, forward and backward (dx and dBias), with
    /// and without a bias, on widths that are not multiples of 8 or 16, on inputs that reach
    /// every branch of Φ: both sides of |u/√2| = 0.921875, the tail past |u/√2| = 6, signed
    /// zeros, ±∞ and NaN.
    func testBiasGELUSameBitsUnderBothUnits() throws {
        try requireAVX512()
        var rng = SeededRandom(seed: 41)
        let edges: [Float] = [0, -0, 1.3037, -1.3037, 1.30377, -1.30377, 8.48, -8.48, 9, -9, 12, -30, 30, 100, -100,
                              .infinity, -.infinity, .nan, 1e-30, -1e-30, Float(0.921875 * 2.0.squareRoot())]
        for (rows, cols) in [(1, 1), (3, 7), (5, 15), (4, 16), (7, 17), (33, 31), (64, 256), (9, 40)] {
            var x = rng.floats(rows * cols, -6, 6)
            for (i, e) in edges.enumerated() where i < x.count { x[(i * 7919) % x.count] = e }
            let bias = rng.floats(cols), dy = rng.floats(rows * cols)
            for withBias in [true, false] {
                let p = BiasActivationParameters(.gelu, rows: rows, cols: cols)
                func run(_ unit: CPUVectorUnit) throws -> [[UInt32]] {
                    try CPUVectorUnit.with(unit) {
                        let b = CPUBackend()
                        let tx = try b.tensor(x, shape: [rows, cols]), tdy = try b.tensor(dy, shape: [rows, cols])
                        let tb = withBias ? try b.tensor(bias, shape: [cols]) : nil
                        let y = try b.makeTensor([rows, cols]), dx = try b.makeTensor([rows, cols]), db = try b.makeTensor([cols])
                        for t in [y, dx, db] { try b.fill(t, with: .nan) }
                        try b.biasActivationForward(p, x: tx, bias: tb, y: y)
                        try b.biasActivationBackward(p, dy: tdy, x: tx, bias: tb, dx: dx, dBias: db)
                        return try [y, dx, db].map { try b.read($0).map(\.bitPattern) }
                    }
                }
                let wide = try run(.avx512), narrow = try run(.avx2)
                if x.contains(where: \.isNaN) {
                    XCTAssertTrue(wide[0].contains { Float(bitPattern: $0).isNaN }, "the NaN input did not reach y")
                }
                for (i, name) in ["y", "dx", "dBias"].enumerated() {
                    XCTAssertEqual(wide[i], narrow[i], "\(rows)×\(cols) bias \(withBias): \(name) differs between AVX-512 and AVX2")
                }
            }
        }
    }

    /// CAFU's fast path against the Double reference with the other unit than the default one,
    /// so both paths are checked on every host that has AVX-512 (`CAFUTests` runs the default).
    func testCAFUMatchesReferenceUnderTheOtherUnit() throws {
        try requireAVX512()
        let other: CPUVectorUnit = CPUVectorUnit.current == .avx512 ? .avx2 : .avx512
        CPUVectorUnit.with(other) {
            assertCasesPass(CAFUChecks.cases(), on: CPUBackend())
            for gate in CAFUGate.allCases {
                let p = CAFUParameters(items: 1000, gate: gate)
                assertCasesPass([CAFUChecks.forwardCase(p), CAFUChecks.backwardCase(p, withDAlpha: true)], on: CPUBackend())
            }
        }
    }

    /// The unit in use is AVX-512 exactly when the host has it, unless ARMMT_CPU_VECTORS=avx2.
    func testDefaultUnitFollowsTheHost() {
        let asked = ProcessInfo.processInfo.environment["ARMMT_CPU_VECTORS"]?.lowercased() == "avx2"
        XCTAssertEqual(CPUVectorUnit.defaultUnit, CPUVectorUnit.hostHasAVX512 && !asked ? .avx512 : .avx2)
        XCTAssertTrue(CPUBackend().name.contains(CPUVectorUnit.current.rawValue))
    }
}
