import Foundation

/// Wall-clock timing for benchmarks: warm-up launches first (compile and first-touch costs
/// stay out), then `repeats` samples, each of `launches` back-to-back launches closed by one
/// `synchronize`, divided by `launches`. The median sample is reported, so one slow sample
/// (a preempted core, a clock change) does not move it.
public struct BenchTiming: Sendable {
    public var warmup = 3
    public var repeats = 7
    /// Aim for each sample to take about this long; launches per sample adapt to it.
    public var targetSampleSeconds = 0.05

    public init(warmup: Int = 3, repeats: Int = 7, targetSampleSeconds: Double = 0.05) {
        self.warmup = warmup
        self.repeats = repeats
        self.targetSampleSeconds = targetSampleSeconds
    }

    /// Median seconds per launch of `body`.
    public func measure(_ backend: Backend, _ body: () throws -> Void) throws -> Double {
        let samples = try sampleSeconds(backend, body)
        return samples[samples.count / 2]
    }

    /// Fastest sample's seconds per launch: what the device peak probes report, since a peak is
    /// the best the device does, and slower samples only add interference from elsewhere.
    public func fastest(_ backend: Backend, _ body: () throws -> Void) throws -> Double {
        try sampleSeconds(backend, body)[0]
    }

    /// Sorted per-launch seconds of `repeats` samples after warm-up.
    func sampleSeconds(_ backend: Backend, _ body: () throws -> Void) throws -> [Double] {
        for _ in 0..<warmup { try body() }
        try backend.synchronize()
        // One timed launch sizes the samples.
        var start = DispatchTime.now().uptimeNanoseconds
        try body()
        try backend.synchronize()
        let one = max(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, 1e-7)
        let launches = max(1, min(10_000, Int(targetSampleSeconds / one)))
        var samples: [Double] = []
        for _ in 0..<repeats {
            start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<launches { try body() }
            try backend.synchronize()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(launches))
        }
        return samples.sorted()
    }
}
