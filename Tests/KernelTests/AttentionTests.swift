import XCTest
@testable import ARMMTGPU

/// Fused attention: the Double reference against a naive formula and finite differences, then
/// the CPU backend and OpenCL (PoCL in CI) against the Double reference.
final class AttentionTests: XCTestCase {
    // MARK: helpers

    /// Forward on Double arrays: (O, lse).
    private func referenceForward(_ p: AttentionParameters, q: [Double], k: [Double], v: [Double],
                                  mask: [Double]?, outCount: Int) -> ([Double], [Double]) {
        var out = [Double](repeating: .nan, count: outCount)
        var lse = [Double](repeating: .nan, count: p.batch * p.heads * p.queryLength)
        q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            (mask ?? [1]).withUnsafeBufferPointer { pm in
                out.withUnsafeMutableBufferPointer { po in lse.withUnsafeMutableBufferPointer { pl in
                    AttentionReference.forward(p, q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!,
                                               keyMask: mask == nil ? nil : pm.baseAddress!,
                                               out: po.baseAddress!, logSumExp: pl.baseAddress!)
                } }
            }
        } } }
        return (out, lse)
    }

    /// Backward on Double arrays: (dQ, dK, dV), each the size of its operand (NaN where unwritten).
    private func referenceBackward(_ p: AttentionParameters, q: [Double], k: [Double], v: [Double], mask: [Double]?,
                                   out: [Double], lse: [Double], dOut: [Double]) -> ([Double], [Double], [Double]) {
        var dQ = [Double](repeating: .nan, count: q.count), dK = [Double](repeating: .nan, count: k.count)
        var dV = [Double](repeating: .nan, count: v.count)
        q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            (mask ?? [1]).withUnsafeBufferPointer { pm in
                dQ.withUnsafeMutableBufferPointer { pdq in dK.withUnsafeMutableBufferPointer { pdk in
                    dV.withUnsafeMutableBufferPointer { pdv in
                        AttentionReference.backward(p, q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!,
                                                    keyMask: mask == nil ? nil : pm.baseAddress!, out: out,
                                                    logSumExp: lse, dOut: dOut, dQ: pdq.baseAddress!,
                                                    dK: pdk.baseAddress!, dV: pdv.baseAddress!)
                    }
                } }
            }
        } } }
        return (dQ, dK, dV)
    }

    /// Every (element index) of an operand's head windows.
    private func windowIndices(_ p: AttentionParameters, _ l: AttentionLayout, length: Int) -> [Int] {
        let a = AttentionReference.Addressing(p, l, length: length)
        var out: [Int] = []
        for b in 0..<p.batch { for i in 0..<length { for h in 0..<p.heads {
            for c in 0..<p.headDim { out.append(a.at(b, i, h) + c) }
        } } }
        return out
    }

    private func randoms(_ n: Int, _ rng: inout SeededRandom, _ spread: Double = 1) -> [Double] {
        (0..<n).map { _ in rng.uniform(-spread, spread) }
    }

    // MARK: a. the Double reference

    /// The reference forward against the textbook formula (full score matrix, masked softmax).
    func testReferenceForwardMatchesNaiveFormula() {
        var rng = SeededRandom(seed: 11)
        let p = AttentionParameters(batch: 3, queryLength: 5, keyLength: 6, heads: 2, headDim: 3)
        let w = p.modelWidth
        let q = randoms(p.batch * 5 * w, &rng, 2), k = randoms(p.batch * 6 * w, &rng, 2), v = randoms(p.batch * 6 * w, &rng)
        var mask = [Double](repeating: 1, count: 18)
        mask[1] = 0; mask[4] = 0                   // padding in the middle of sample 0
        for j in 6..<12 { mask[j] = 0 }            // sample 1: no valid key
        mask[17] = 0                                // sample 2: trailing padding
        let (out, lse) = referenceForward(p, q: q, k: k, v: v, mask: mask, outCount: q.count)
        for b in 0..<3 { for i in 0..<5 { for h in 0..<2 {
            var scores: [Double] = [], values: [[Double]] = []
            for j in 0..<6 where mask[b * 6 + j] != 0 {
                var s = 0.0
                for c in 0..<3 { s += q[((b * 5 + i) * 2 + h) * 3 + c] * k[((b * 6 + j) * 2 + h) * 3 + c] }
                scores.append(s * Double(p.scale))  // the op takes its scale in float32
                values.append((0..<3).map { v[((b * 6 + j) * 2 + h) * 3 + $0] })
            }
            let z = scores.map { Foundation.exp($0) }.reduce(0, +)
            for c in 0..<3 {
                let expected = scores.isEmpty ? 0 : zip(scores, values).map { Foundation.exp($0) / z * $1[c] }.reduce(0, +)
                let got = out[((b * 5 + i) * 2 + h) * 3 + c]
                XCTAssertEqual(got, expected, accuracy: 1e-12, "O[\(b),\(i),\(h),\(c)]")
                if scores.isEmpty { XCTAssertEqual(got.bitPattern, 0.0.bitPattern, "empty sample gives exactly +0") }
            }
            XCTAssertEqual(lse[(b * 2 + h) * 5 + i], scores.isEmpty ? 0 : Foundation.log(z), accuracy: 1e-12, "lse[\(b),\(h),\(i)]")
        } } }
    }

    /// Central differences of L = Σ R ⊙ O against the reference backward, for every element of
    /// Q, K and V's head windows; masked keys and an empty sample must get exactly 0.
    private func finiteDifferenceCheck(_ p: AttentionParameters, mask: [Double]?, qCount: Int, kCount: Int, vCount: Int,
                                       outCount: Int, sharedQK: Bool, seed: UInt64,
                                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: seed)
        let q = randoms(qCount, &rng, 1.5)
        let k = sharedQK ? q : randoms(kCount, &rng, 1.5)
        let v = randoms(vCount, &rng), r = randoms(outCount, &rng)
        let (out, lse) = referenceForward(p, q: q, k: k, v: v, mask: mask, outCount: outCount)
        let outIdx = windowIndices(p, p.outLayout, length: p.queryLength)
        XCTAssertFalse(outIdx.contains { !out[$0].isFinite }, "forward produced a non-finite value", file: file, line: line)
        var dOut = [Double](repeating: .nan, count: outCount)
        for i in outIdx { dOut[i] = r[i] }
        let (dQ, dK, dV) = referenceBackward(p, q: q, k: k, v: v, mask: mask, out: out, lse: lse, dOut: dOut)

        func loss(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            let (o, _) = referenceForward(p, q: q, k: k, v: v, mask: mask, outCount: outCount)
            return outIdx.reduce(0) { $0 + o[$1] * r[$1] }
        }
        let h = 1e-6
        func check(_ name: String, _ analytic: [Double], _ indices: [Int], _ perturb: (inout [Double], inout [Double], inout [Double], Int, Double) -> Void) {
            var numeric: [Double] = []
            for idx in indices {
                var q1 = q, k1 = k, v1 = v, q2 = q, k2 = k, v2 = v
                perturb(&q1, &k1, &v1, idx, h)
                perturb(&q2, &k2, &v2, idx, -h)
                numeric.append((loss(q1, k1, v1) - loss(q2, k2, v2)) / (2 * h))
            }
            let scale = numeric.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 1e-3, "\(name): gradient is trivially zero", file: file, line: line)
            for (n, idx) in zip(numeric, indices) {
                let a = analytic[idx]
                XCTAssertTrue(abs(a - n) <= 1e-6 * (abs(n) + scale), "\(name)[\(idx)] analytic \(a) vs numeric \(n)", file: file, line: line)
            }
        }
        let qIdx = windowIndices(p, p.qLayout, length: p.queryLength)
        let kIdx = windowIndices(p, p.kLayout, length: p.keyLength)
        let vIdx = windowIndices(p, p.vLayout, length: p.keyLength)
        if sharedQK {
            // One tensor in both roles: its gradient is dQ + dK.
            var sum = dQ
            for i in qIdx { sum[i] = dQ[i] + dK[i] }
            check("dQ+dK", sum, qIdx) { q, k, _, i, d in q[i] += d; k[i] += d }
        } else {
            check("dQ", dQ, qIdx) { q, _, _, i, d in q[i] += d }
            check("dK", dK, kIdx) { _, k, _, i, d in k[i] += d }
        }
        check("dV", dV, vIdx) { _, _, v, i, d in v[i] += d }

        // Masked keys and samples without a valid key: exact zeros.
        if let mask {
            let ka = AttentionReference.Addressing(p, p.kLayout, length: p.keyLength)
            let va = AttentionReference.Addressing(p, p.vLayout, length: p.keyLength)
            let qa = AttentionReference.Addressing(p, p.qLayout, length: p.queryLength)
            for b in 0..<p.batch {
                let empty = (0..<p.keyLength).allSatisfy { mask[b * p.keyLength + $0] == 0 }
                for hh in 0..<p.heads {
                    for j in 0..<p.keyLength where mask[b * p.keyLength + j] == 0 {
                        for c in 0..<p.headDim {
                            XCTAssertEqual(dV[va.at(b, j, hh) + c], 0, "dV of a masked key", file: file, line: line)
                            if !sharedQK { XCTAssertEqual(dK[ka.at(b, j, hh) + c], 0, "dK of a masked key", file: file, line: line) }
                        }
                    }
                    if empty {
                        for i in 0..<p.queryLength { for c in 0..<p.headDim {
                            XCTAssertEqual(dQ[qa.at(b, i, hh) + c], 0, "dQ of an empty sample", file: file, line: line)
                        } }
                    }
                }
            }
        }
    }

    func testFiniteDifferencesCrossAttentionWithPaddingAndEmptySample() {
        let p = AttentionParameters(batch: 3, queryLength: 4, keyLength: 5, heads: 2, headDim: 3)
        // Sample 0: padding at positions 1 and 3; sample 1: none valid; sample 2: all valid.
        let mask: [Double] = [1, 0, 1, 0, 1,  0, 0, 0, 0, 0,  1, 1, 1, 1, 1]
        let w = p.modelWidth
        finiteDifferenceCheck(p, mask: mask, qCount: 3 * 4 * w, kCount: 3 * 5 * w, vCount: 3 * 5 * w,
                              outCount: 3 * 4 * w, sharedQK: false, seed: 21)
    }

    func testFiniteDifferencesWithoutMaskAndCustomScale() {
        var p = AttentionParameters(batch: 1, queryLength: 3, keyLength: 2, heads: 1, headDim: 5)
        p.scale = 0.7
        finiteDifferenceCheck(p, mask: nil, qCount: 15, kCount: 10, vCount: 10, outCount: 15, sharedQK: false, seed: 22)
    }

    /// MPSA: one tensor as both queries and keys, values from another.
    func testFiniteDifferencesSharedQueriesAndKeys() {
        let p = AttentionParameters(batch: 2, queryLength: 4, keyLength: 4, heads: 2, headDim: 2)
        let mask: [Double] = [1, 1, 0, 1,  1, 0, 1, 1]
        finiteDifferenceCheck(p, mask: mask, qCount: 32, kCount: 32, vCount: 32, outCount: 32, sharedQK: true, seed: 23)
    }

    /// Strided layouts: Q and K packed side by side in one tensor, V and O with row slack.
    func testFiniteDifferencesPackedLayouts() {
        var p = AttentionParameters(batch: 2, queryLength: 3, keyLength: 3, heads: 2, headDim: 2)
        p.qLayout = AttentionLayout(offset: 1, rowStride: 9)
        p.kLayout = AttentionLayout(offset: 5, rowStride: 9)
        p.vLayout = AttentionLayout(offset: 2, rowStride: 5)
        p.outLayout = AttentionLayout(offset: 0, rowStride: 6)
        let mask: [Double] = [0, 1, 1,  1, 1, 0]
        // Q and K hold disjoint windows of one buffer: perturbing a Q element moves only Q.
        finiteDifferenceCheck(p, mask: mask, qCount: 1 + 6 * 9, kCount: 1 + 6 * 9, vCount: 2 + 6 * 5,
                              outCount: 6 * 6, sharedQK: false, seed: 24)
    }

    // MARK: b. backends against the reference

    /// Sizes beyond the self-test's covering set.
    static let extraCases: [EquivalenceCase] = [
        AttentionChecks.make(batch: 3, queryLength: 129, keyLength: 3, heads: 2, headDim: 8, seed: 5),
        AttentionChecks.make(batch: 3, queryLength: 1, keyLength: 129, heads: 2, headDim: 128, masking: .withEmptySample, seed: 6),
        AttentionChecks.make(batch: 1, queryLength: 63, keyLength: 2, heads: 4, headDim: 16, masking: .none, seed: 7),
        AttentionChecks.make(batch: 3, queryLength: 16, keyLength: 16, heads: 4, headDim: 64, sources: .sharedQK, seed: 8),
        AttentionChecks.make(batch: 1, queryLength: 17, keyLength: 17, heads: 1, headDim: 1, sources: .packed, seed: 9),
        AttentionChecks.make(batch: 3, queryLength: 31, keyLength: 64, heads: 1, headDim: 33, seed: 10),
    ]

    private func runAll(on backend: Backend) throws {
        var worst = 0.0
        for c in AttentionChecks.cases() + Self.extraCases {
            let comparisons: [Comparison]
            do { comparisons = try c.run(backend) } catch {
                XCTFail("\(c.shape): \(error)")
                continue
            }
            for cmp in comparisons {
                worst = max(worst, cmp.worstRatio)
                XCTAssertTrue(cmp.passed, "\(backend.name) \(c.shape): \(cmp.tensor)[\(cmp.firstFailure ?? -1)] off by \(cmp.worstRatio)× the tolerance (max abs \(cmp.maxAbsError))")
            }
        }
        print("attention on \(backend.name): worst error / tolerance = \(worst)")
    }

    func testCPUBackendMatchesReference() throws {
        try runAll(on: CPUBackend())
    }

    func testOpenCLMatchesReference() throws {
        try runAll(on: try openCL())
    }

    private func openCL() throws -> OpenCLBackend {
        if OpenCLInventory.shared.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        return try OpenCLBackend(deviceIndex: 0)
    }

    /// Outputs of a sample with no valid key are exactly 0 on every backend (not merely within
    /// tolerance), and a second backward gives bit-identical gradients.
    func testEmptySampleExactZerosAndDeterminism() throws {
        var backends: [Backend] = [CPUBackend()]
        if !OpenCLInventory.shared.devices.isEmpty { backends.append(try OpenCLBackend(deviceIndex: 0)) }
        let x = AttentionChecks.Inputs.make(batch: 3, queryLength: 33, keyLength: 70, heads: 2, headDim: 24,
                                            masking: .withEmptySample, sources: .separate, seed: 3)
        let p = x.params
        for backend in backends {
            let tq = try backend.tensor(x.q, shape: [3, 33, 2, 24]), tk = try backend.tensor(x.k, shape: [3, 70, 2, 24])
            let tv = try backend.tensor(x.v, shape: [3, 70, 2, 24]), tm = try backend.tensor(x.mask!, shape: [3, 70])
            let to = try backend.makeTensor([3, 33, 2, 24]), tl = try backend.makeTensor([3, 2, 33])
            let tdo = try backend.tensor(x.dOut, shape: [3, 33, 2, 24])
            var runs: [[[Float]]] = []
            for _ in 0..<2 {
                let tdq = try backend.makeTensor(tq.shape), tdk = try backend.makeTensor(tk.shape), tdv = try backend.makeTensor(tv.shape)
                for t in [to, tl, tdq, tdk, tdv] { try backend.fill(t, with: .nan) }
                try backend.attentionForward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl)
                try backend.attentionBackward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl, dOut: tdo,
                                              dQ: tdq, dK: tdk, dV: tdv)
                runs.append(try [to, tl, tdq, tdk, tdv].map { try backend.read($0) })
            }
            let names = ["O", "lse", "dQ", "dK", "dV"]
            for (n, (a, b)) in zip(names, zip(runs[0], runs[1])) {
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(backend.name): \(n) differs between runs")
                XCTAssertFalse(a.contains { !$0.isFinite }, "\(backend.name): \(n) has a non-finite value")
            }
            let sample = 33 * 2 * 24, keys = 70 * 2 * 24
            for (n, t, count) in [("O", 0, sample), ("dQ", 2, sample), ("dK", 3, keys), ("dV", 4, keys)] {
                XCTAssertTrue(runs[0][t][count..<(2 * count)].allSatisfy { $0 == 0 }, "\(backend.name): \(n) of the empty sample is not 0")
            }
            XCTAssertTrue(runs[0][1][66..<132].allSatisfy { $0 == 0 }, "\(backend.name): lse of the empty sample is not 0")
        }
    }

    /// `VectorMath.log`, which forms the CPU fast path's logSumExp from softmax sums (≥ 1):
    /// within 2 ulp of Double log over the sums' range, exact at 1, NaN stays NaN.
    func testVectorLogOfSoftmaxSums() {
        var rng = SeededRandom(seed: 9)
        var xs: [Float] = [1, 2, 0.5, 1.000_000_1, 1.414_213_5, 1.414_213_7, 65_536, 3e38]
        for _ in 0..<20_000 { xs.append(Float(Foundation.exp(rng.uniform(0, 12)))) }
        var worst = 0.0
        for start in stride(from: 0, to: xs.count - 7, by: 8) {
            let v = Float8(xs[start..<(start + 8)])
            let r = VectorMath.log(v)
            for i in 0..<8 {
                let exact = Foundation.log(Double(xs[start + i]))
                let err = Swift.abs(Double(r[i]) - exact) / Swift.max(Swift.abs(exact), 1e-30)
                if exact != 0 { worst = Swift.max(worst, err) }
            }
        }
        print("log: max relative error \(worst)")
        XCTAssertLessThan(worst, 2.4e-7)
        XCTAssertEqual(VectorMath.log(Float8(repeating: 1))[0], 0)
        XCTAssertTrue(VectorMath.log(Float8(repeating: .nan))[3].isNaN)
    }

    /// The CPU backend's parallel fast path gives the same bits as its single-threaded run, and
    /// two runs give the same bits (each (b, h) pair writes only its own outputs).
    func testCPUParallelMatchesSerial() throws {
        let x = AttentionChecks.Inputs.make(batch: 64, queryLength: 32, keyLength: 50, heads: 4, headDim: 16,
                                            masking: .withEmptySample, sources: .separate, seed: 4)
        func run(_ cpu: CPUBackend) throws -> [[UInt32]] { try attentionOutputBits(x, on: cpu) }
        let parallel = try run(CPUBackend()), again = try run(CPUBackend()), serial = try run(CPUBackend(parallel: false))
        for (n, i) in [("O", 0), ("lse", 1), ("dQ", 2), ("dK", 3), ("dV", 4)] {
            XCTAssertEqual(parallel[i], serial[i], "\(n): parallel differs from serial")
            XCTAssertEqual(parallel[i], again[i], "\(n): differs between runs")
        }
    }

    /// The CPU fast path reads K and V in place when a sample's valid keys are consecutive and
    /// gathers them otherwise; both must give the same bits. Sample 0 has its valid keys as a
    /// prefix; in the second layout the same keys, in the same order, have a masked key of
    /// garbage after the first one, which forces the gather. O, lse, dQ and the valid rows of
    /// dK and dV must match bit for bit.
    func testInPlaceAndGatheredKeysGiveTheSameBits() throws {
        let cpu = CPUBackend()
        let (lq, lk, h, dh, n) = (32, 12, 4, 16, 9)
        var rng = SeededRandom(seed: 21)
        let row = h * dh
        let q = (0..<(lq * row)).map { _ in Float(rng.uniform(-1, 1)) }
        let keys = (0..<(n * row)).map { _ in Float(rng.uniform(-1, 1)) }
        let values = (0..<(n * row)).map { _ in Float(rng.uniform(-1, 1)) }
        let dOut = (0..<(lq * row)).map { _ in Float(rng.uniform(-1, 1)) }
        let garbage = (0..<row).map { _ in Float(rng.uniform(-50, 50)) }
        func layout(hole: Bool) -> ([Float], [Float], [Float]) {
            var k = [Float](), v = [Float](), m = [Float]()
            for j in 0..<lk {
                let source = hole ? (j == 0 ? 0 : j == 1 ? -1 : j - 1) : j
                if source >= 0 && source < n {
                    k += keys[(source * row)..<((source + 1) * row)]
                    v += values[(source * row)..<((source + 1) * row)]
                    m.append(1)
                } else {
                    k += garbage
                    v += garbage
                    m.append(0)
                }
            }
            return (k, v, m)
        }
        let p = AttentionParameters(batch: 1, queryLength: lq, keyLength: lk, heads: h, headDim: dh)
        func run(hole: Bool) throws -> [[UInt32]] {
            let (k, v, m) = layout(hole: hole)
            let tq = try cpu.tensor(q, shape: [1, lq, h, dh]), tk = try cpu.tensor(k, shape: [1, lk, h, dh])
            let tv = try cpu.tensor(v, shape: [1, lk, h, dh]), tm = try cpu.tensor(m, shape: [1, lk])
            let tdo = try cpu.tensor(dOut, shape: [1, lq, h, dh])
            let to = try cpu.makeTensor([1, lq, h, dh]), tl = try cpu.makeTensor([1, h, lq])
            let tdq = try cpu.makeTensor(tq.shape), tdk = try cpu.makeTensor(tk.shape), tdv = try cpu.makeTensor(tv.shape)
            try cpu.attentionForward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl)
            try cpu.attentionBackward(p, q: tq, k: tk, v: tv, keyMask: tm, out: to, logSumExp: tl, dOut: tdo,
                                      dQ: tdq, dK: tdk, dV: tdv)
            // dK, dV: the rows of the valid keys only, in key order.
            let validRows = (0..<lk).filter { m[$0] != 0 }
            func rows(_ t: Tensor) throws -> [Float] {
                let all = try cpu.read(t)
                return validRows.flatMap { all[($0 * row)..<(($0 + 1) * row)] }
            }
            return try [cpu.read(to), cpu.read(tl), cpu.read(tdq), rows(tdk), rows(tdv)].map { $0.map(\.bitPattern) }
        }
        let inPlace = try run(hole: false), gathered = try run(hole: true)
        for (name, i) in [("O", 0), ("lse", 1), ("dQ", 2), ("dK", 3), ("dV", 4)] {
            XCTAssertEqual(inPlace[i], gathered[i], "\(name): in-place and gathered keys differ")
        }
    }

    // MARK: c. validation

    func testValidationErrorsNameTheTensor() throws {
        let cpu = CPUBackend()
        let p = AttentionParameters(batch: 2, queryLength: 3, keyLength: 4, heads: 2, headDim: 8)
        func t(_ shape: [Int]) throws -> Tensor { try cpu.makeTensor(shape) }
        let q = try t([2, 3, 2, 8]), k = try t([2, 4, 2, 8]), v = try t([2, 4, 2, 8]), m = try t([2, 4])
        let o = try t([2, 3, 2, 8]), l = try t([2, 2, 3])
        func expectError(_ fragment: String, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error) does not mention \(fragment)", line: line)
                XCTAssertEqual((error as? EngineError)?.kind, .usage, line: line)
            }
        }
        expectError("attention Q: expected shape [2, 3, 2, 8], got [2, 4, 2, 8]") {
            try cpu.attentionForward(p, q: k, k: k, v: v, keyMask: m, out: o, logSumExp: l)
        }
        expectError("attention V") { try cpu.attentionForward(p, q: q, k: k, v: q, keyMask: m, out: o, logSumExp: l) }
        expectError("attention key mask: expected shape [2, 4]") {
            try cpu.attentionForward(p, q: q, k: k, v: v, keyMask: try t([2, 3]), out: o, logSumExp: l)
        }
        expectError("attention logSumExp: expected shape [2, 2, 3]") {
            try cpu.attentionForward(p, q: q, k: k, v: v, keyMask: m, out: o, logSumExp: try t([2, 3, 2]))
        }
        expectError("attention dK") {
            try cpu.attentionBackward(p, q: q, k: k, v: v, keyMask: m, out: o, logSumExp: l, dOut: o,
                                      dQ: q, dK: q, dV: v)
        }
        expectError("attention key mask: expected a float32 tensor") {
            try cpu.attentionForward(p, q: q, k: k, v: v, keyMask: try cpu.makeTensor([2, 4], dtype: .int32), out: o, logSumExp: l)
        }
        var wide = p
        wide.headDim = 129
        expectError("head width") { try cpu.attentionForward(wide, q: q, k: k, v: v, keyMask: m, out: o, logSumExp: l) }
        var strided = p
        strided.kLayout = AttentionLayout(offset: 3, rowStride: 16)
        expectError("attention K: layout offset 3 row stride 16 needs") {
            try cpu.attentionForward(strided, q: q, k: k, v: v, keyMask: m, out: o, logSumExp: l)
        }
        strided.kLayout = AttentionLayout(offset: 0, rowStride: 15)
        expectError("row stride 15") { try cpu.attentionForward(strided, q: q, k: try t([200]), v: v, keyMask: m, out: o, logSumExp: l) }

        if !OpenCLInventory.shared.devices.isEmpty {
            let ocl = try OpenCLBackend(deviceIndex: 0)
            let oq = try ocl.makeTensor([2, 3, 2, 8]), ok = try ocl.makeTensor([2, 4, 2, 8])
            let ov = try ocl.makeTensor([2, 4, 2, 8]), oo = try ocl.makeTensor([2, 3, 2, 8]), ol = try ocl.makeTensor([2, 2, 3])
            expectError("attention O") { try ocl.attentionForward(p, q: oq, k: ok, v: ov, keyMask: nil, out: ok, logSumExp: ol) }
            expectError("attention key mask: tensor [2, 4] lives on another backend") {
                try ocl.attentionForward(p, q: oq, k: ok, v: ov, keyMask: m, out: oo, logSumExp: ol)
            }
        }
    }
}
