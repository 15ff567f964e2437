import ARMMTGPU
import ArgumentParser
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: medians after warm-up, compile time excluded.",
        subcommands: [BenchKernelsCommand.self, BenchTrainCommand.self])
}

struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time every op at the default config's shapes and one large shape; report GFLOP/s, GB/s and fraction of the device's measured peak.")

    @OptionGroup var deviceOptions: DeviceOptions

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Only ops whose name contains this text.")
    var op: String?

    @Flag(name: .long, help: "Skip the large shapes.")
    var noLarge = false

    func run() throws {
        let backend = try deviceOptions.selector().makeBackend()
        var isGPU = false
        if let ocl = backend as? OpenCLBackend {
            try ocl.compileAll()
            isGPU = ocl.context.info.isGPU
        }
        let peaks = try DeviceProbes.measure(backend)
        // The tiling decides the GEMM rows on OpenCL; a sweep's logs must say which one ran.
        let openCLTuning = (backend as? OpenCLBackend)?.tuning
        let gemmTiling = openCLTuning?.gemm.description, gemmSplitUnits = openCLTuning?.gemmSplitUnits
        if !json {
            print("device: \(backend.name)")
            if let gemmTiling { print("OpenCL GEMM tiling: \(gemmTiling) (\(GemmTiling.environmentVariable) sets it)") }
            if let gemmSplitUnits {
                print("OpenCL GEMM split over k: " + (gemmSplitUnits > 1 ? "for \(gemmSplitUnits) compute units" : "off")
                      + " (\(DeviceTuning.gemmSplitVariable) sets it)")
            }
            print(String(format: "measured peaks: copy %.1f GB/s (read+write), FMA %.1f GFLOP/s", peaks.copyBytesPerSecond / 1e9, peaks.fmaFlopsPerSecond / 1e9)
                  + " (\(peaks.fmaVectors))")
            print("op".padding(toLength: 18, withPad: " ", startingAt: 0) + "shape".padding(toLength: 56, withPad: " ", startingAt: 0)
                  + "    median µs    GFLOP/s       GB/s  roofline")
        }
        let benches = KernelBenchmarks.all(large: !noLarge, isGPU: isGPU).filter { op == nil || $0.op.contains(op!) }
        let results = try KernelBenchmarks.run(benches, on: backend, peaks: peaks) { r in
            if !json {
                print(r.op.padding(toLength: 18, withPad: " ", startingAt: 0) + r.shape.padding(toLength: 56, withPad: " ", startingAt: 0)
                      + String(format: " %12.1f %10.1f %10.1f %7.1f%% %@", r.medianMicroseconds, r.gflops, r.gbytesPerSecond,
                               100 * r.fractionOfPeak, r.bound == .compute ? "(FMA-bound)" : "(copy-bound)"))
            }
        }
        let speedups = AttentionFusionSpeedup.pairs(results)
        if json {
            struct Report: Encodable {
                var device: String; var gemmTiling: String?; var gemmSplitUnits: Int?; var peaks: DevicePeaks
                var results: [KernelBenchResult]
                var attentionFusedVsUnfused: [AttentionFusionSpeedup]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Report(device: backend.name, gemmTiling: gemmTiling, gemmSplitUnits: gemmSplitUnits,
                                                             peaks: peaks, results: results,
                                                             attentionFusedVsUnfused: speedups)), as: UTF8.self))
        } else if !speedups.isEmpty {
            print("")
            for s in speedups { print(s.line) }
        }
    }
}

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time whole training steps (batch, forward, backward, clipping, AdamW) of the default model on the default data set's shape; prints requests_per_s=<number> last.")

    @OptionGroup var deviceOptions: DeviceOptions

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Timed steps (the median is reported).")
    var steps = 10

    @Option(name: .long, help: "Untimed warm-up steps.")
    var warmup = 3

    @Option(name: .long, help: "Requests per step.")
    var batchSize = 256

    func run() throws {
        let backend = try deviceOptions.selector().makeBackend()
        if let ocl = backend as? OpenCLBackend { try ocl.compileAll() }
        var config = TrainBenchConfig()
        config.steps = steps
        config.warmup = warmup
        config.batchSize = batchSize
        config.data.trainRequests = max(config.data.trainRequests, batchSize)
        let log: ((String) -> Void)? = json ? nil : { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        let result = try TrainBenchmark.run(config, backend: backend, progress: log)
        if json {
            print(try result.json())
        } else {
            for line in result.lines { print(line) }
        }
    }
}
