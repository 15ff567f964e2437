import Foundation

/// One benchmark: an op at one shape, with the work it does per launch.
public struct KernelBenchmark {
    /// Which roof limits an op on a device: its flops at the FMA peak, or its bytes at the copy bandwidth.
    public enum Bound: String, Codable, Sendable { case compute, memory }
    public let op: String
    public let shape: String
    /// Floating-point operations per launch (a multiply-add counts 2).
    public let flops: Double
    /// Bytes that must cross the memory bus per launch (each input read once, each output written once).
    public let bytes: Double
    /// Allocates inputs on the backend and returns the closure that launches the op once.
    public let prepare: (Backend) throws -> () throws -> Void

    public init(op: String, shape: String, flops: Double, bytes: Double,
                prepare: @escaping (Backend) throws -> () throws -> Void) {
        self.op = op
        self.shape = shape
        self.flops = flops
        self.bytes = bytes
        self.prepare = prepare
    }
}

/// One row of `armmt-gpu bench kernels`.
public struct KernelBenchResult: Codable, Sendable {
    public var op: String
    public var shape: String
    public var medianMicroseconds: Double
    public var gflops: Double
    public var gbytesPerSecond: Double
    /// The roof that limits this op on this device (the larger of the two ideal times).
    public var bound: KernelBenchmark.Bound
    /// Roofline fraction: `max(flops / FMA peak, bytes / copy bandwidth) / measured time`.
    /// 1 means the op runs as fast as the device's measured peaks allow for its flops and
    /// bytes; above 1 happens when inputs stay in cache, which the DRAM copy probe does not see.
    public var fractionOfPeak: Double
}

public enum KernelBenchmarks {
    /// The model's default configuration (ARMMT-SPEC, issue text): the shapes benchmarks use.
    public struct Shapes: Sendable {
        public var requests = 256
        public var candidates = 32
        public var behaviours = 50
        public var width = 64
        public var heads = 4
        public var textDim = 384
        public var imageDim = 512
        /// The default synthetic data set's item table (`SynthConfig.items`).
        public var items = 20_000
        public init() {}
    }

    /// Every registered benchmark for a device: default-config shapes plus one large shape.
    public static func all(large: Bool, isGPU: Bool) -> [KernelBenchmark] {
        GemmBenchmarks.all(Shapes(), large: large, isGPU: isGPU) + OpBenchmarks.all(Shapes(), large: large)
    }

    public static func run(_ benches: [KernelBenchmark], on backend: Backend, peaks: DevicePeaks,
                           timing: BenchTiming = BenchTiming(),
                           progress: ((KernelBenchResult) -> Void)? = nil) throws -> [KernelBenchResult] {
        try benches.map { bench in
            let launch = try bench.prepare(backend)
            let seconds = try timing.measure(backend, launch)
            let computeTime = bench.flops / peaks.fmaFlopsPerSecond
            let memoryTime = bench.bytes / peaks.copyBytesPerSecond
            let r = KernelBenchResult(op: bench.op, shape: bench.shape, medianMicroseconds: seconds * 1e6,
                                      gflops: bench.flops / seconds / 1e9, gbytesPerSecond: bench.bytes / seconds / 1e9,
                                      bound: computeTime >= memoryTime ? .compute : .memory,
                                      fractionOfPeak: max(computeTime, memoryTime) / seconds)
            progress?(r)
            return r
        }
    }

    /// Random (never zero) float32 contents for a benchmark input.
    public static func randomTensor(_ backend: Backend, _ shape: [Int], seed: UInt64, lo: Double = -1, hi: Double = 1) throws -> Tensor {
        var rng = SeededRandom(seed: seed)
        return try backend.tensor(rng.floats(shape.reduce(1, *), lo, hi), shape: shape)
    }
}

enum GemmBenchmarks {
    static func all(_ s: KernelBenchmarks.Shapes, large: Bool, isGPU: Bool) -> [KernelBenchmark] {
        let itemRows = s.requests * (s.candidates + s.behaviours)
        let listRows = s.requests * s.candidates
        var out = [
            // Modality projections over every candidate and behaviour item: x·Wᵀ + b.
            bench("text projection", m: itemRows, n: s.width, k: s.textDim, transB: true, bias: true),
            bench("image projection", m: itemRows, n: s.width, k: s.imageDim, transB: true, bias: true),
            // FFN of the list block: d → 4d.
            bench("ffn up", m: listRows, n: 4 * s.width, k: s.width, transB: true, bias: true),
            // Weight gradient of the text projection: dYᵀ·X (reduction over all rows).
            bench("text projection dW", m: s.width, n: s.textDim, k: itemRows, transA: true, bias: false),
            // A d → d layer over the list (MPSA's projections, the heads): the most frequent
            // product of a step, forward and weight gradient.
            bench("list d×d", m: listRows, n: s.width, k: s.width, transB: true, bias: true),
            bench("list d×d dW", m: s.width, n: s.width, k: listRows, transA: true, bias: false),
        ]
        if large {
            let n = isGPU ? 4096 : 1024
            out.append(bench("large square", m: n, n: n, k: n, bias: false))
        }
        return out
    }

    static func bench(_ name: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                      bias: Bool) -> KernelBenchmark {
        let p = GemmParameters(m: m, n: n, k: k, transA: transA, transB: transB)
        let bytes = Double(4 * (m * k + k * n + m * n + (bias ? n : 0)))
        return KernelBenchmark(op: "gemm", shape: "\(name) \(transA ? "T" : "N")\(transB ? "T" : "N") m=\(m) n=\(n) k=\(k)",
                               flops: p.flops, bytes: bytes) { backend in
            let a = try KernelBenchmarks.randomTensor(backend, [m * k], seed: 1)
            let b = try KernelBenchmarks.randomTensor(backend, [k * n], seed: 2)
            let c = try backend.makeTensor([m * n])
            let biasT = bias ? try KernelBenchmarks.randomTensor(backend, [n], seed: 3) : nil
            return { try backend.gemm(p, a: a, b: b, c: c, bias: biasT) }
        }
    }
}
