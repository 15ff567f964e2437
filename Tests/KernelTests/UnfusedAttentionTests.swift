import ARMMTGPU
import Foundation
import XCTest

final class UnfusedAttentionTests: XCTestCase {
    typealias S = NormFamilyTestSupport

    /// Every registered case (Lk = 1, a fully masked sample, awkward lengths, K/V packed side by
    /// side, shared Q/K, strided Q/K/V/O) against the Double reference and the fused op.
    func testCPUMatchesFusedAndReference() {
        S.assertCases(UnfusedAttentionChecks.cases(), on: CPUBackend())
    }

    func testOpenCLMatchesFusedAndReference() throws {
        let extra = [
            UnfusedAttentionChecks.make(batch: 2, queryLength: 1, keyLength: 1, heads: 4, headDim: 16),
            UnfusedAttentionChecks.make(batch: 1, queryLength: 2, keyLength: 513, heads: 1, headDim: 16, masking: .random),
        ]
        S.assertCases(UnfusedAttentionChecks.cases() + extra, on: try S.openCL())
    }

    /// The score buffer ends up holding P: each row of a sample with a valid key sums to 1 with
    /// zeros at masked keys; the rows of the fully masked sample are all zeros and its O is 0.
    func testScoreBufferHoldsProbabilities() throws {
        for backend in [CPUBackend() as Backend] + ((try? S.openCL()).map { [$0 as Backend] } ?? []) {
            let x = UnfusedAttentionChecks.inputs(batch: 3, queryLength: 5, keyLength: 7, heads: 2, headDim: 8,
                                                  masking: .withEmptySample, sources: .packedKV, seed: 4)
            let p = x.params
            let tq = try backend.tensor(x.q, shape: [3, 5, 2, 8]), tkv = try backend.tensor(x.k, shape: [x.k.count])
            let tm = try backend.tensor(x.mask!, shape: [3, 7]), out = try backend.makeTensor([3, 5, 2, 8])
            let u = try UnfusedAttention(p, backend: backend)
            try u.forward(q: tq, k: tkv, v: tkv, keyMask: tm, out: out)
            XCTAssertEqual(u.scores.shape, [3 * 2 * 5, 7])
            let probs = try backend.read(u.scores), o = try backend.read(out)
            for r in 0..<(3 * 2 * 5) {
                let b = r / 10
                let row = probs[(r * 7)..<(r * 7 + 7)]
                for j in 0..<7 where x.mask![b * 7 + j] == 0 { XCTAssertEqual(row[r * 7 + j], 0, "\(backend.kind) P[\(r), \(j)] masked") }
                XCTAssertEqual(Double(row.reduce(0, +)), b == 1 ? 0 : 1, accuracy: 1e-6, "\(backend.kind) row \(r)")
            }
            XCTAssertEqual(o[(5 * 16)..<(10 * 16)].filter { $0 != 0 }.count, 0, "\(backend.kind) O of the empty sample")
        }
    }

    func testValidationErrorsNameTheTensor() throws {
        let cpu = CPUBackend()
        let p = AttentionParameters(batch: 2, queryLength: 3, keyLength: 4, heads: 2, headDim: 8)
        let u = try UnfusedAttention(p, backend: cpu)
        let q = try cpu.makeTensor([2, 3, 2, 8]), kv = try cpu.makeTensor([2, 4, 2, 8]), m = try cpu.makeTensor([2, 4])
        S.assertUsageError(mentioning: "attention O: expected shape [2, 3, 2, 8]") {
            try u.forward(q: q, k: kv, v: kv, keyMask: m, out: kv)
        }
        S.assertUsageError(mentioning: "attention key mask") {
            try u.forward(q: q, k: kv, v: kv, keyMask: try cpu.makeTensor([2, 3]), out: q)
        }
        S.assertUsageError(mentioning: "at least 1") {
            _ = try UnfusedAttention(AttentionParameters(batch: 0, queryLength: 3, keyLength: 4, heads: 2, headDim: 8), backend: cpu)
        }
    }

    /// The bench summary pairs each fused row with the unfused row of the same shape.
    func testSpeedupPairsRowsByShape() {
        // Built through Codable, as `--json` consumers read them (the type has no public init).
        func row(_ op: String, _ shape: String, _ us: Double) -> KernelBenchResult {
            let json = #"{"op":"\#(op)","shape":"\#(shape)","medianMicroseconds":\#(us),"gflops":1,"gbytesPerSecond":1,"bound":"compute","fractionOfPeak":0.5}"#
            return try! JSONDecoder().decode(KernelBenchResult.self, from: Data(json.utf8))
        }
        let a = "fwd B=256 Lq=32 Lk=50 H=4 dh=16 behaviour default", b = "fwd B=256 Lq=32 Lk=32 H=4 dh=16 list default"
        let pairs = AttentionFusionSpeedup.pairs([
            row("attention", a, 100), row("attention-unfused", a, 180), row("attention", "bwd " + a.dropFirst(4), 300),
            row("attention", b, 50), row("attention-unfused", b, 40), row("attention", "fwd lonely", 10),
        ])
        XCTAssertEqual(pairs.map(\.shape), [a, b])
        XCTAssertEqual(pairs[0].speedup, 1.8, accuracy: 1e-12)
        XCTAssertEqual(pairs[0].line, "fused vs unfused attention fwd, behaviour default: 1.80x faster")
        XCTAssertEqual(pairs[1].line, "fused vs unfused attention fwd, list default: 0.80x slower")
    }
}
