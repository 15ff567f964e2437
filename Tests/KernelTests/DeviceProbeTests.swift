import COpenBLAS
import XCTest
@testable import ARMMTGPU

/// The FMA probe is the denominator of every compute roofline: it must do exactly the flops it
/// is credited with, in the vectors it names.
final class DeviceProbeTests: XCTestCase {
    /// Replays the probe's 12 chains lane by lane in scalar fma(): the same values in the same
    /// order of summation, so any dropped chain, lane or iteration changes the bits.
    private func scalarChains(iterations: Int, seed: Float, lanes: Int) -> Float {
        var acc = (0..<12).map { seed + Float($0) }
        for _ in 0..<iterations {
            for j in 0..<12 { acc[j] = Float(1e-7).addingProduct(acc[j], 0.999999) }
        }
        var lane = acc[0]
        for j in 1..<12 { lane += acc[j] }
        // Every lane starts equal, so the lanes of the summed vector are all `lane`.
        var s: Float = 0
        for _ in 0..<lanes { s += lane }
        return s
    }

    func testProbeChainsDoTheCreditedWork() throws {
        #if arch(x86_64)
        for (iterations, seed) in [(1, Float(0.5)), (37, 1.25), (1000, -3)] {
            XCTAssertEqual(armmt_fma_chains_avx2(iterations, seed), scalarChains(iterations: iterations, seed: seed, lanes: 8))
            if armmt_cpu_has_avx512_skx() != 0 {
                XCTAssertEqual(armmt_fma_chains_avx512(iterations, seed), scalarChains(iterations: iterations, seed: seed, lanes: 16))
            }
        }
        #else
        throw XCTSkip("the C FMA probes are x86-64 only")
        #endif
    }

    func testCPUProbeNamesTheWidestVectors() throws {
        let peaks = try DeviceProbes.measure(CPUBackend(), timing: BenchTiming(warmup: 1, repeats: 1, targetSampleSeconds: 0.001))
        #if arch(x86_64)
        XCTAssertEqual(peaks.fmaVectors, armmt_cpu_has_avx512_skx() != 0 ? "AVX-512" : "AVX2")
        #endif
        XCTAssertGreaterThan(peaks.fmaFlopsPerSecond, 0)
        XCTAssertGreaterThan(peaks.copyBytesPerSecond, 0)
    }
}
