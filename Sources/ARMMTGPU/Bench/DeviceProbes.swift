import COpenBLAS
import Dispatch
import Foundation
import Kernels

/// Measured peaks of a device, the denominators of "fraction of peak" in benchmark tables.
public struct DevicePeaks: Codable, Sendable {
    /// Bytes read + written per second by a plain large copy.
    public var copyBytesPerSecond: Double
    /// float32 flops per second of independent FMA chains.
    public var fmaFlopsPerSecond: Double
    /// The vectors the FMA probe used ("AVX-512", "AVX2", "SIMD16", or "OpenCL float").
    public var fmaVectors: String
}

public enum DeviceProbes {
    /// Runs the copy and FMA probes on `backend`.
    public static func measure(_ backend: Backend, timing: BenchTiming = BenchTiming()) throws -> DevicePeaks {
        if let ocl = backend as? OpenCLBackend { return try measureOpenCL(ocl, timing: timing) }
        return try measureCPU(backend, timing: timing)
    }

    static func measureOpenCL(_ ocl: OpenCLBackend, timing: BenchTiming) throws -> DevicePeaks {
        let info = ocl.context.info
        // 256 MiB each way on a GPU (far past any cache), 64 MiB on a CPU device.
        let bytes = min(info.isGPU ? 256 << 20 : 64 << 20, Int(info.maxAllocationBytes) / 2)
        let n4 = bytes / 16
        let src = try ocl.makeTensor([n4 * 4]), dst = try ocl.makeTensor([n4 * 4])
        try ocl.fill(src, with: 1)
        let copy = try ocl.kernel("probe_copy", family: "probe", source: KernelSources.probe)
        let groups = info.computeUnits * (info.isGPU ? 64 : 4)
        let local = min(256, info.maxWorkGroupSize)
        let copySeconds = try timing.fastest(ocl) {
            try copy.launch([.buffer(try ocl.buffer(src, "src")), .buffer(try ocl.buffer(dst, "dst")), .int(Int32(n4))],
                            global: [groups * local], local: [local])
        }
        let fma = try ocl.kernel("probe_fma", family: "probe", source: KernelSources.probe)
        let items = info.computeUnits * (info.isGPU ? 2048 : 64) * 4
        let out = try ocl.makeTensor([items])
        let fmaSeconds = try timing.fastest(ocl) {
            try fma.launch([.buffer(try ocl.buffer(out, "out")), .float(0.5)], global: [items], local: [min(256, local)])
        }
        return DevicePeaks(copyBytesPerSecond: Double(2 * n4 * 16) / copySeconds,
                           fmaFlopsPerSecond: Double(items) * 1024 * 8 * 2 / fmaSeconds,
                           fmaVectors: "OpenCL float")
    }

    static func measureCPU(_ backend: Backend, timing: BenchTiming) throws -> DevicePeaks {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Copy: 64 MiB per core-slice, split over all cores as a multi-threaded kernel would.
        let count = 16 << 20
        let src = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { src.deallocate(); dst.deallocate() }
        src.initialize(repeating: 1, count: count)
        dst.initialize(repeating: 0, count: count)
        let chunk = (count + cores - 1) / cores
        let copySeconds = try timing.fastest(backend) {
            DispatchQueue.concurrentPerform(iterations: cores) { c in
                let lo = c * chunk, hi = min(count, lo + chunk)
                if lo < hi { (dst + lo).update(from: src + lo, count: hi - lo) }
            }
        }
        // FMA: independent chains in the widest vectors the CPU has, one thread per core.
        let fma = widestFMAChains()
        let iterations = 1 << 20
        var sink = [Float](repeating: 0, count: cores)
        let fmaSeconds = try timing.fastest(backend) {
            sink.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: cores) { c in base[c] = fma.run(iterations, Float(c)) }
            }
        }
        _ = sink
        return DevicePeaks(copyBytesPerSecond: Double(2 * count * 4) / copySeconds,
                           fmaFlopsPerSecond: Double(cores * iterations * fma.flopsPerIteration) / fmaSeconds,
                           fmaVectors: fma.name)
    }

    /// The FMA probe for this CPU. The device's peak is what its widest vectors reach, not what
    /// this build's AVX2 loops reach: on an AVX-512 CPU the AVX2 figure is half the peak, and
    /// every "fraction of peak" against it would read twice too high.
    static func widestFMAChains() -> (name: String, flopsPerIteration: Int, run: @Sendable (Int, Float) -> Float) {
        #if arch(x86_64)
        if CPUVectorUnit.hostHasAVX512 {
            return ("AVX-512", 12 * 16 * 2, { armmt_fma_chains_avx512($0, $1) })
        }
        return ("AVX2", 12 * 8 * 2, { armmt_fma_chains_avx2($0, $1) })
        #else
        return ("SIMD16", fmaChainCount * 16 * 2, { fmaChains($0, seed: $1) })
        #endif
    }

    /// SIMD16 accumulators in `fmaChains`, the probe where no C intrinsics are wired up: enough
    /// independent FMAs to cover the latency of two pipes, few enough that nothing spills.
    static let fmaChainCount = 7

    @inline(never)
    static func fmaChains(_ iterations: Int, seed: Float) -> Float {
        let m = SIMD16<Float>(repeating: 0.999999), c = SIMD16<Float>(repeating: 1e-7)
        var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6
        for _ in 0..<iterations {
            a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m); a2 = c.addingProduct(a2, m)
            a3 = c.addingProduct(a3, m); a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
            a6 = c.addingProduct(a6, m)
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6).sum()
    }
}
