import ARMMTGPU
import Foundation
import XCTest

/// Training-step time of the default model on the CPU backend (B = 256, K = 32, L = 50, d = 64,
/// H = 4, D_t = 384, D_v = 512). Prints only; runs when ARMMT_MODEL_TIMING is set, in a release
/// build: `swift test -c release -Xswiftc -enable-testing --filter ModelTimingTests`.
final class ModelTimingTests: XCTestCase {
    func testDefaultModelStepTime() throws {
        guard ProcessInfo.processInfo.environment["ARMMT_MODEL_TIMING"] != nil else {
            throw XCTSkip("set ARMMT_MODEL_TIMING=1 (release build) to time the default model")
        }
        let dir = try DataTestSupport.temporaryDirectory("model-timing")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = SynthConfig()
        c.trainRequests = 768
        c.validRequests = 1
        c.testRequests = 1
        c.items = 5000
        try SynthGenerator.generate(c, into: dir)
        let data = try Dataset(directory: dir)
        let split = try data.split("train")
        let be = CPUBackend()
        let model = try ARMMTModel(config: ModelConfig(), schema: data.schema, backend: be, maxBatch: 256)
        let norm = try be.makeTensor([1]), scale = try be.makeTensor([1])
        var batch = split.emptyBatch()
        var times: [Double] = []
        for step in 0..<6 {
            let start = Date()
            try split.fill(&batch, requests: Array((step % 3) * 256 ..< (step % 3 + 1) * 256))
            let r = try model.computeGradients(batch, items: data.items)
            try be.gradientNorm(model.parameters.map(\.grad), maxNorm: 1, norm: norm, clipScale: scale)
            let p = AdamWParameters(learningRate: 1e-3, step: step + 1)
            for q in model.parameters {
                try be.adamW(p, parameter: q.value, gradient: q.grad, m: q.m, v: q.v, gradientScale: scale)
            }
            times.append(Date().timeIntervalSince(start))
            XCTAssertTrue(r.total.isFinite)
        }
        let steady = times.dropFirst().sorted()
        print(String(format: "default model, CPU backend (%@): %d parameters, step %.1f ms (median of %d), first %.1f ms",
                     be.name, model.parameterCount, steady[steady.count / 2] * 1000, steady.count, times[0] * 1000))
    }
}

