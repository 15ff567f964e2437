@testable import ARMMTGPU
import Foundation
import XCTest

/// The engine's ARMMT and the independent PyTorch one (scripts/torch_armmt.py) compute the same
/// network: for each switch of docs/MODEL.md, the engine's model (CPU backend, seeded init) is
/// written as a checkpoint, the script loads it by name and dumps the main-head logits, the
/// losses of one training batch and every parameter's gradient on it, and the test compares them
/// with the engine's `predict` and `computeGradients` under the tolerance rule.
///
/// Skipped when python3 cannot import torch, numpy and safetensors.
final class TorchParityTests: XCTestCase {
    // MARK: Configs

    /// Also shows the comparison can fail: the same model reading the CAFU context as [e ⊕ c]
    /// instead of [c ⊕ e] (the item gate's fc1 columns of the two blocks swapped) must differ.
    func testDefault() throws {
        try check("default", { _ in }) { model, batch, torchLogits, tolerance in
            let w = try XCTUnwrap(model.parameters.first { $0.name == "cafu_item.fc1.weight" })
            let d = model.shape.d, width = 3 * d
            var values = try model.backend.read(w.value)
            for row in 0..<(values.count / width) {
                for j in 0..<d { values.swapAt(row * width + d + j, row * width + 2 * d + j) }
            }
            try model.backend.write(values, to: w.value)
            let swapped = try self.validLogits(model, batch, ParityData.synth(), torchLogits)
            let c = Comparison.compare("logits", actual: swapped, expected: torchLogits, tolerance: tolerance)
            self.report("default", c, expectPass: false)
            XCTAssertFalse(c.passed, "[e ⊕ c] for [c ⊕ e] went unnoticed (worst ratio \(c.worstRatio))")
        }
    }
    func testVectorGate() throws { try check("gate-vector") { $0.gate = .vector } }
    func testListwiseLoss() throws { try check("loss-listwise") { $0.loss = .listwise } }
    func testConcatFusion() throws { try check("fusion-concat") { $0.fusion = .concat } }
    func testMeanFusion() throws { try check("fusion-mean") { $0.fusion = .mean } }
    func testSingleMPSA() throws { try check("mpsa-single") { $0.mpsa = .single } }
    func testNoMPSA() throws { try check("mpsa-off") { $0.mpsa = .off } }
    func testMPSAQueryKeyFromR() throws { try check("mpsa-qk-r") { $0.mpsaQueryKey = .r } }
    /// Without the personalized unit the pers perspective keeps h_P = e + pos.
    func testMPSAQueryKeyFromRWithoutBehaviours() throws {
        try check("mpsa-qk-r-behaviour-off") {
            $0.mpsaQueryKey = .r
            $0.behaviourAttention = false
        }
    }
    func testNoInteraction() throws { try check("interaction-none") { $0.interaction = .none } }
    func testAuxInputR() throws { try check("aux-input-r") { $0.auxInput = .r } }
    func testNoBehaviourAttention() throws { try check("behaviour-off") { $0.behaviourAttention = false } }
    func testTextOnly() throws { try check("text-only") { $0.modalities = [.text] } }
    func testImageOnlyVectorGate() throws {
        try check("image-only-vector") {
            $0.modalities = [.image]
            $0.gate = .vector
        }
    }
    func testPRMPreset() throws { try check("preset-prm") { $0.applyPreset(.prm) } }
    func testTwoBlocks() throws { try check("blocks-2") { $0.blocks = 2 } }

    /// A data set with neither query nor user features, nothing to build the item
    /// representation from (`e = item_proj.bias`, `c = context_proj.bias`) and no behaviours
    /// (L_max = 0: no personalized branch although behaviour attention is on).
    func testBareDataset() throws {
        try check("bare", data: try ParityData.bare()) { _ in }
    }

    // MARK: The comparison

    /// Model widths: small, but H = 4 so `mpsa = multi` has 2 heads per perspective.
    private func config(_ edit: (inout ModelConfig) -> Void) -> ModelConfig {
        var c = ModelConfig()
        c.width = 16
        c.heads = 4
        c.embeddingWidth = 3
        c.cafuHidden = 8
        c.seed = 5
        edit(&c)
        return c
    }

    /// Builds the engine's model, runs the script on its checkpoint and compares everything.
    /// `then` runs last with the model, the batch, torch's valid logits and their tolerance.
    private func check(_ tag: String, data: ParityData? = nil, _ edit: (inout ModelConfig) -> Void,
                       then: ((ARMMTModel, Batch, [Float], Tolerance) throws -> Void)? = nil) throws {
        try ParityData.requireTorch()
        let data = try data ?? ParityData.synth()
        let (model, batch) = try engineModel(data, config(edit))
        let dir = try DataTestSupport.temporaryDirectory("parity-\(tag)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard try runTorch(tag, data, model, dir) else { return }
        // Forward outputs (logits, losses) against the forward chain; gradients come back down
        // the same chain, so they meet every reduction twice.
        let chain = ParityData.reductionChain(model.shape)
        let tolerance = Tolerance(reductionLength: chain)
        let gradientTolerance = Tolerance(reductionLength: 2 * chain)

        // Logits on the valid candidates.
        let rows = batch.size * batch.kMax
        let torchLogits = try NPY.floats(dir + "/logits.npy", count: rows * model.targetCount)
        let theirs = validOnly(torchLogits, batch, model.targetCount)
        let mine = try validLogits(model, batch, data, theirs)
        report(tag, Comparison.compare("logits", actual: mine, expected: theirs, tolerance: tolerance))

        // Losses and gradients of one training batch.
        let loss = try model.computeGradients(batch, items: data.dataset.items)
        let lossJSON = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/loss.json")))
            as? [String: Any])
        var torchLoss = try XCTUnwrap(lossJSON["per_target"] as? [Double])
        for key in ["total", "main", "aux"] { torchLoss.append(try XCTUnwrap(lossJSON[key] as? Double, key)) }
        report(tag, Comparison.compare("losses (per target, total, main, aux)",
                                       actual: loss.perTarget + [loss.total, loss.main, loss.aux],
                                       expected: torchLoss, tolerance: tolerance))

        let grads = try SafeTensorsFile(path: dir + "/grads.safetensors")
        XCTAssertEqual(Set(grads.names), Set(model.parameters.map(\.name)), "\(tag): parameter names")
        for (layer, engine) in try ModelTestSupport.layerGradients(model) {
            let names = grads.names.contains(layer) ? [layer] : [layer + ".weight", layer + ".bias"]
            let reference = try names.flatMap { try grads.floats($0) }
            guard reference.count == engine.count else {
                XCTFail("\(tag): \(layer): torch has \(reference.count) gradient values, the engine \(engine.count)")
                continue
            }
            report(tag, Comparison.compare("∂L/∂" + layer, actual: engine, expected: reference, tolerance: gradientTolerance))
        }
        try then?(model, batch, theirs, tolerance)
    }

    /// The engine's model (CPU backend, seeded init) for all requests of the data set's split, as one batch.
    private func engineModel(_ data: ParityData, _ config: ModelConfig) throws -> (ARMMTModel, Batch) {
        let split = try data.dataset.split(data.split)
        let batch = try split.batch(Array(0..<split.count))
        let model = try ARMMTModel(config: config, schema: data.dataset.schema, backend: CPUBackend(), maxBatch: split.count)
        return (model, batch)
    }

    /// Writes `model` as a trainer checkpoint and runs the script on it: `dir` gets logits.npy,
    /// loss.json and grads.safetensors. False (after recording the failure) when the script fails.
    private func runTorch(_ tag: String, _ data: ParityData, _ model: ARMMTModel, _ dir: String) throws -> Bool {
        let ckpt = dir + "/model.safetensors"
        var section = try XCTUnwrap(JSONSerialization.jsonObject(with: try model.config.encodedJSON()) as? [String: Any])
        section["kind"] = "armmt"
        try Checkpoint.save(to: ckpt, model: model, state: TrainingState(), config: RunConfig(model: section),
                            schema: data.dataset.schema, dataDirectory: data.dataset.directory)
        let n = try data.dataset.split(data.split).count
        let script = DataTestSupport.repositoryRoot + "/scripts/torch_armmt.py"
        let r = try XCTUnwrap(try DataTestSupport.python([
            script, "--data", data.dataset.directory, "--checkpoint", ckpt, "--split", data.split, "--requests", String(n),
            "--dump-logits", dir + "/logits.npy", "--dump-loss", dir + "/loss.json", "--dump-grads", dir + "/grads.safetensors",
            "--threads", "1",
        ]))
        XCTAssertEqual(r.status, 0, "\(tag): torch_armmt.py failed:\n\(r.output)")
        return r.status == 0
    }

    /// The values of the valid candidates' rows of `[B, K, T]` logits (padding slots differ by
    /// design: the engine gathers zeros there, the script item 0; neither is ever used).
    private func validOnly(_ logits: [Float], _ batch: Batch, _ t: Int) -> [Float] {
        (0..<(batch.size * batch.kMax)).filter { batch.candidateMask[$0] > 0 }.flatMap { logits[($0 * t)..<($0 * t + t)] }
    }

    /// The engine's `predict` logits of the valid candidates (`like` only checks the count).
    private func validLogits(_ model: ARMMTModel, _ batch: Batch, _ data: ParityData, _ like: [Float]) throws -> [Float] {
        let out = validOnly(try model.predict(batch, items: data.dataset.items).logits, batch, model.targetCount)
        XCTAssertEqual(out.count, like.count)
        return out
    }

    /// Asserts `c` passed (unless `expectPass` is false); ARMMT_PARITY_VERBOSE=1 prints every comparison.
    private func report(_ tag: String, _ c: Comparison, expectPass: Bool = true, file: StaticString = #filePath,
                        line: UInt = #line) {
        if ProcessInfo.processInfo.environment["ARMMT_PARITY_VERBOSE"] != nil {
            print("parity \(tag) \(c.tensor): worst \(c.worstRatio) maxAbs \(c.maxAbsError) maxRel \(c.maxRelError)")
        }
        guard expectPass else { return }
        XCTAssertTrue(c.passed, "\(tag): \(c.tensor) differs from torch: worst error \(c.worstRatio)× the allowed, max abs \(c.maxAbsError), first failing element \(c.firstFailure ?? -1)",
                      file: file, line: line)
    }
}

/// A data set for the comparison and the split compared.
final class ParityData {
    let dataset: Dataset
    let split: String

    private init(_ dataset: Dataset, split: String) {
        self.dataset = dataset
        self.split = split
    }

    nonisolated(unsafe) private static var cachedSynth: ParityData?
    nonisolated(unsafe) private static var cachedBare: ParityData?
    nonisolated(unsafe) private static var torchAvailable: Bool?

    static func requireTorch() throws {
        if torchAvailable == nil {
            let r = try DataTestSupport.python(["-c", "import torch, numpy, safetensors"])
            torchAvailable = r?.status == 0
        }
        if torchAvailable != true { throw XCTSkip("python3 with torch, numpy and safetensors is not available") }
    }

    /// The synthetic generator at tiny sizes; its valid split (24 requests) holds requests
    /// without behaviours, short lists (padded candidate slots) and items without an image.
    static func synth() throws -> ParityData {
        if let d = cachedSynth { return d }
        var c = SynthConfig()
        c.trainRequests = 4
        c.validRequests = 24
        c.testRequests = 1
        c.items = 200
        c.users = 10
        c.categories = 4
        c.kMax = 6
        c.lMax = 4
        c.textDim = 7
        c.imageDim = 5
        c.queryDim = 4
        c.seed = 3
        let dir = try DataTestSupport.temporaryDirectory("parity-synth")
        try SynthGenerator.generate(c, into: dir)
        let d = ParityData(try Dataset(directory: dir), split: "valid")
        try d.requireCoverage()
        cachedSynth = d
        return d
    }

    /// The tiny hand-written data set of the data tests without query, user, categorical,
    /// dense and list features, and without behaviours (L_max = 0).
    static func bare() throws -> ParityData {
        if let d = cachedBare { return d }
        let dir = try DataTestSupport.temporaryDirectory("parity-bare")
        let keep: Set<String> = ["text", "image", "has_image"]
        let items = DataTestSupport.tinyItemBlobs().filter { keep.contains($0.spec.name) }
        let train = DataTestSupport.tinyTrainBlobs(requests: 8).filter {
            !["query", "user", "list_features", "behaviours"].contains($0.spec.name)
        }
        let s = DataTestSupport.tinySchema()
        let schema = DatasetSchema(
            dims: DatasetDims(text: s.dims.text, image: s.dims.image, query: 0, kMax: s.dims.kMax, lMax: 0),
            items: s.items, itemCategorical: [], itemDense: [], userFeatures: [], listFeatures: [], targets: s.targets,
            mainTarget: s.mainTarget, splits: s.splits)
        try DataTestSupport.writeTinyDataset(dir, items: items, train: train, schema: schema)
        let d = ParityData(try Dataset(directory: dir), split: "train")
        try d.requireCoverage()
        cachedBare = d
        return d
    }

    /// The compared requests must hold the cases where two implementations are most likely to
    /// part: padded candidate slots, an empty behaviour sequence, a candidate or behaviour
    /// without an image.
    private func requireCoverage() throws {
        let s = try dataset.split(split)
        let b = try s.batch(Array(0..<s.count))
        let l = b.lMax
        let padded = b.candidateMask.contains(0)
        let empty = (0..<b.size).contains { r in (0..<l).allSatisfy { b.behaviourMask[r * l + $0] == 0 } }
        let ids = zip(b.candidates, b.candidateMask).filter { $0.1 > 0 }.map(\.0)
            + zip(b.behaviours, b.behaviourMask).filter { $0.1 > 0 }.map(\.0)
        let noImage = ids.contains { dataset.items.hasImage[Int($0)] == 0 }
        guard padded, empty, noImage else {
            throw EngineError.runtime("parity data set lacks coverage: padded \(padded), empty behaviours \(empty), missing image \(noImage)")
        }
    }

    /// The tolerance rule's n for an output of the whole network: the reductions on the
    /// longest chain from an input to a logit (projection, LayerNorm, behaviour attention,
    /// CAFU, joint, each MPSA block, the head), added up. Each layer rounds its own sums and
    /// hands the error up, so a logit carries the random walk of all of them: u·√(Σ nᵢ), the
    /// rule's √n with n = Σ nᵢ. (Default test config: n = 444.)
    static func reductionChain(_ s: ModelShape) -> Int {
        let d = s.d, dh = s.headDim
        var n = max(s.textDim, s.imageDim, s.itemInputWidth, s.contextInputWidth) + d   // projection + LayerNorm
        if s.personalized { n += d + s.l * dh + d }                                     // q/k/v, attention, out_proj
        if !s.modalities.isEmpty { n += 3 * d + s.config.cafuHidden + s.modalityCount } // CAFU gate MLP + softmax
        n += 2 * d                                                                       // joint
        if s.config.mpsa != .off {
            n += s.config.blocks * (d + s.k * dh + d + d + d + 4 * d + d)              // MPSA block
        }
        n += 4 * d + 2 * d + d                                                           // head
        return n
    }
}

/// Reads a float32 `.npy` file (numpy's format 1.0/2.0, little-endian, C order).
enum NPY {
    static func floats(_ path: String, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, String(decoding: bytes[1...5], as: UTF8.self) == "NUMPY" else {
            throw EngineError.runtime("\(path): not a .npy file")
        }
        let major = bytes[6]
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = (major == 1 ? 10 : 12) + headerLength
        let header = String(decoding: bytes[(major == 1 ? 10 : 12)..<start], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
            throw EngineError.runtime("\(path): expected little-endian float32 in C order, header \(header)")
        }
        guard bytes.count - start == 4 * count else {
            throw EngineError.runtime("\(path): \((bytes.count - start) / 4) values, expected \(count)")
        }
        return (0..<count).map { i in
            let o = start + 4 * i
            return Float(bitPattern: UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)
        }
    }
}
