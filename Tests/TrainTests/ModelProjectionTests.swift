@testable import ARMMTGPU
import Foundation
import XCTest

/// The modality projections run once per distinct item of a batch and are spread to the slots:
/// every slot must hold exactly `LN(x_item·Wᵀ + b)` of its own item (padding slots zero), and the
/// projection and LayerNorm gradients must equal the per-slot sums, in a batch that repeats
/// items across candidates, behaviours and requests.
final class ModelProjectionTests: XCTestCase {
    private let data = TinyModelData.shared

    /// Requests 0-2 (request 0: no behaviours, padded candidates) with repeats forced in: a
    /// behaviour's item as a candidate of another request, one candidate shared by two requests.
    private func batchWithRepeats() throws -> Batch {
        var b = try data.batch([0, 1, 2])
        let k = b.kMax, l = b.lMax
        let behaviour = try XCTUnwrap((l..<(3 * l)).first { b.behaviours[$0] >= 0 }, "no valid behaviour in requests 1-2")
        b.candidates[k] = b.behaviours[behaviour]
        b.candidates[2 * k + 1] = b.candidates[k]
        b.candidates[2 * k + 2] = b.candidates[1]
        return b
    }

    func testSlotsHoldTheirItemsProjectionAndGradientsSumOverSlots() throws {
        let model = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 4)
        let be = model.backend, s = model.shape, d = s.d
        let batch = try batchWithRepeats()
        _ = try model.computeGradients(batch, items: data.items)

        // The slots in model order: the maximum batch's candidates, then its behaviours.
        var slots = [Int32](repeating: -1, count: s.projectedRows)
        for i in 0..<(batch.size * s.k) { slots[i] = batch.candidates[i] }
        for i in 0..<(batch.size * s.l) { slots[s.candidateRows + i] = batch.behaviours[i] }
        let valid = slots.filter { $0 >= 0 }
        XCTAssertLessThan(Set(valid).count, valid.count, "the batch must repeat items")
        XCTAssertEqual(model.inputs.uniqueRows, Set(valid).count, "one projected row per distinct item")

        for (enc, mod) in zip(model.encoders, s.modalities) {
            let dim = s.dim(mod)
            let w = try be.read(enc.proj.weight.value).map(Double.init), bias = try be.read(enc.proj.bias!.value).map(Double.init)
            let gamma = try be.read(enc.norm.gamma.value).map(Double.init), beta = try be.read(enc.norm.beta.value).map(Double.init)
            let out = try be.read(enc.out), dOut = try be.read(enc.dOut).map(Double.init)
            var expected = [Double](repeating: 0, count: s.projectedRows * d)
            var dW = [Double](repeating: 0, count: d * dim), dB = [Double](repeating: 0, count: d)
            var dGamma = [Double](repeating: 0, count: d), dBeta = [Double](repeating: 0, count: d)
            for (r, id) in slots.enumerated() where id >= 0 {
                let x = (mod == .text ? data.items.gatherText([id]) : data.items.gatherImage([id])).map(Double.init)
                let pre = (0..<d).map { o in bias[o] + (0..<dim).reduce(0.0) { $0 + w[o * dim + $1] * x[$1] } }
                let mu = pre.reduce(0, +) / Double(d)
                let rstd = 1 / ((pre.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(d)) + 1e-5).squareRoot()
                let xhat = pre.map { ($0 - mu) * rstd }
                for j in 0..<d { expected[r * d + j] = gamma[j] * xhat[j] + beta[j] }
                // LayerNorm backward of this slot, then its outer product into dW.
                let dy = Array(dOut[(r * d)..<((r + 1) * d)])
                let g = (0..<d).map { dy[$0] * gamma[$0] }
                let meanG = g.reduce(0, +) / Double(d)
                let meanGX = zip(g, xhat).reduce(0.0) { $0 + $1.0 * $1.1 } / Double(d)
                for j in 0..<d {
                    dGamma[j] += dy[j] * xhat[j]
                    dBeta[j] += dy[j]
                    let dPre = rstd * (g[j] - meanG - xhat[j] * meanGX)
                    dB[j] += dPre
                    for c in 0..<dim { dW[j * dim + c] += dPre * x[c] }
                }
            }
            let name = mod.rawValue
            let forward = Comparison.compare("\(name) slots", actual: out, expected: expected, tolerance: Tolerance(reductionLength: dim))
            XCTAssertTrue(forward.passed, "\(forward)")
            for (r, id) in slots.enumerated() where id < 0 {
                XCTAssertEqual(Array(out[(r * d)..<((r + 1) * d)]), [Float](repeating: 0, count: d), "\(name) padding slot \(r)")
            }
            let tol = Tolerance(reductionLength: valid.count * d)
            for (role, actual, reference) in [("\(name)_proj.weight", enc.proj.weight.grad, dW), ("\(name)_proj.bias", enc.proj.bias!.grad, dB),
                                              ("\(name)_norm.weight", enc.norm.gamma.grad, dGamma), ("\(name)_norm.bias", enc.norm.beta.grad, dBeta)] {
                let c = Comparison.compare(role, actual: try be.read(actual), expected: reference, tolerance: tol)
                XCTAssertTrue(c.passed, "\(role) gradient: \(c)")
            }
        }
    }

    /// An item id outside the table is refused by name before any gather reads it.
    func testItemOutsideTheTableIsRefused() throws {
        let model = try ARMMTModel(config: TinyModelData.tinyConfig(), schema: data.schema, backend: CPUBackend(), maxBatch: 4)
        var batch = try data.batch([1, 2])
        batch.behaviours[batch.lMax] = Int32(data.items.count)
        XCTAssertThrowsError(try model.computeGradients(batch, items: data.items)) { error in
            XCTAssertTrue("\(error)".contains("behaviour \(batch.lMax) names item \(data.items.count)"), "\(error)")
        }
    }

    /// Projections that share an input run as one packed GEMM (MPSA `single` Q/K/V, `multi`
    /// per-perspective Q/K and both V, behaviour K/V): each layer's own gradients match central
    /// differences of the loss.
    func testPackedProjectionGradientsMatchFiniteDifferences() throws {
        var single = TinyModelData.tinyConfig()
        single.mpsa = .single
        for (config, names) in [(single, ["mpsa.0.q_proj.weight", "mpsa.0.k_proj.weight", "mpsa.0.v_proj.bias", "behaviour_attn.image.v_proj.weight"]),
                                (TinyModelData.tinyConfig(), ["mpsa.0.item.k_proj.weight", "mpsa.0.pers.q_proj.bias", "mpsa.0.pers.v_proj.weight",
                                                              "mpsa.0.item.v_proj.bias", "behaviour_attn.text.v_proj.bias", "behaviour_attn.image.k_proj.weight"])] {
            let model = try ARMMTModel(config: config, schema: data.schema, backend: CPUBackend(), maxBatch: 4)
            try ModelTestSupport.assertFiniteDifferences(model, data, rngSeed: 7, names)
        }
    }
}
