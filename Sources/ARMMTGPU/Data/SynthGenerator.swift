import Foundation

/// Writes a synthetic data set (`armmt-gpu data synth`): the world of `SynthWorld`, its item
/// table streamed row by row, and train/valid/test splits in shards of `shardRequests`, each
/// with the true click and purchase probabilities (`oracle`).
///
/// Same config (seed included) → the same bytes: every random draw comes from a stream keyed
/// by (seed, purpose, index), and nothing depends on timing or thread scheduling.
public enum SynthGenerator {
    public static let targets = ["click", "purchase"]
    public static let listFeatures = ["position", "prior_score"]

    /// Generates the data set into `directory` (created if needed) and returns its schema.
    @discardableResult
    public static func generate(_ config: SynthConfig, into directory: String) throws -> DatasetSchema {
        try config.validate()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError.usage("\(directory): cannot create the output directory")
        }
        let world = SynthWorld(config: config)
        try writeItems(world, path: directory + "/items.safetensors")
        var splits: [SplitEntry] = []
        var requestID = 0
        for (index, (name, count)) in [("train", config.trainRequests), ("valid", config.resolvedValid), ("test", config.resolvedTest)].enumerated() {
            var files: [String] = []
            var start = 0
            while start < count {
                let n = min(config.shardRequests, count - start)
                let file = String(format: "%@-%05d.safetensors", name, files.count)
                try writeShard(world, split: index, first: start, count: n, firstRequestID: requestID, path: directory + "/" + file)
                files.append(file)
                start += n
                requestID += n
            }
            splits.append(SplitEntry(name: name, files: files))
        }
        var source: [String: String] = [
            "generator": "armmt-gpu data synth",
            "seed": String(config.seed),
            "requests": String(config.trainRequests),
            "valid_requests": String(config.resolvedValid),
            "test_requests": String(config.resolvedTest),
            "users": String(config.resolvedUsers),
            "categories": String(config.categories),
            "float16": String(config.float16),
        ]
        source["purchase_logit"] = "b + 1.5*[cat=query] + w_c*3*<style,taste> + (1-w_c)*1.8*quality - beta*priceZ - 1.2*[cheaper near-duplicate in list] - 0.35*log2(1+position); click logit = purchase logit + 2"
        let schema = DatasetSchema(
            dims: DatasetDims(text: config.textDim, image: config.imageDim, query: config.queryDim, kMax: config.kMax, lMax: config.lMax),
            items: config.items,
            itemCategorical: [CategoricalField("category", vocab: config.categories), CategoricalField("brand", vocab: SynthWorld.brandVocab)],
            itemDense: ["log_price", "sales"],
            userFeatures: [CategoricalField("age_bucket", vocab: SynthWorld.ageBuckets), CategoricalField("region", vocab: SynthWorld.regions)],
            listFeatures: listFeatures, targets: targets, mainTarget: "purchase", splits: splits, source: source)
        try schema.write(to: directory)
        return schema
    }

    private static func writeItems(_ w: SynthWorld, path: String) throws {
        let c = w.config, n = c.items
        let vt: SafeTensorDType = c.float16 ? .F16 : .F32
        let writer = try SafeTensorsStreamWriter(path: path, tensors: [
            SafeTensorSpec("text", vt, [n, c.textDim]),
            SafeTensorSpec("image", vt, [n, c.imageDim]),
            SafeTensorSpec("categorical", .I32, [n, 2]),
            SafeTensorSpec("dense", .F32, [n, 2]),
            SafeTensorSpec("has_text", .U8, [n]),
            SafeTensorSpec("has_image", .U8, [n]),
        ], metadata: ["generator": "armmt-gpu data synth", "seed": String(c.seed)])
        func stream(_ dim: Int, _ fill: (Int, UnsafeMutablePointer<Float>) -> Void) throws {
            let chunk = 1024
            var row = [Float](repeating: 0, count: chunk * dim)
            var start = 0
            while start < n {
                let m = min(chunk, n - start)
                row.withUnsafeMutableBufferPointer { p in for i in 0..<m { fill(start + i, p.baseAddress! + i * dim) } }
                if c.float16 {
                    try writer.append(row[0..<(m * dim)].map(floatToHalf))
                } else {
                    try writer.append(Array(row[0..<(m * dim)]))
                }
                start += m
            }
        }
        try stream(c.textDim) { w.textVector($0, into: $1) }
        try stream(c.imageDim) { w.imageVector($0, into: $1) }
        var cat = [Int32](), dense = [Float]()
        cat.reserveCapacity(2 * n); dense.reserveCapacity(2 * n)
        for i in 0..<n {
            cat += [w.itemCategory[i], w.itemBrand[i]]
            dense += [(w.itemLogPrice[i] - 4) / 1.2, w.itemSales[i]]
        }
        try writer.append(cat)
        try writer.append(dense)
        try writer.append(w.hasText)
        try writer.append(w.hasImage)
        try writer.finish()
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    private static func writeShard(_ w: SynthWorld, split: Int, first: Int, count n: Int, firstRequestID: Int, path: String) throws {
        let c = w.config, k = c.kMax, l = c.lMax, dq = c.queryDim
        var candidates = [Int32](repeating: -1, count: n * k)
        var behaviours = [Int32](repeating: -1, count: n * l)
        var listFeatures = [Float](repeating: 0, count: n * k * 2)
        var labels = [Float](repeating: 0, count: n * k * 2)
        var oracle = [Float](repeating: 0, count: n * k * 2)
        var query = [Float](repeating: 0, count: n * dq)
        var user = [Int32](repeating: 0, count: n * 2)
        var requestIDs = [Int64](repeating: 0, count: n)
        for r in 0..<n {
            // One stream per request: a shard's content does not depend on the shard size.
            let req = query.withUnsafeMutableBufferPointer {
                SynthRequest(w, split: split, index: first + r, query: $0.baseAddress! + r * dq)
            }
            requestIDs[r] = Int64(firstRequestID + r)
            user[r * 2] = w.userAge[req.user]
            user[r * 2 + 1] = w.userRegion[req.user]
            for (j, b) in req.behaviours.enumerated() { behaviours[r * l + j] = b }
            for p in req.candidates.indices {
                let slot = r * k + p
                let pBuy = sigmoid(req.terms[p].eta), pClick = sigmoid(req.terms[p].eta + SynthWorld.clickOffset)
                candidates[slot] = req.candidates[p]
                listFeatures[slot * 2] = Float(p) / Float(k - 1)
                listFeatures[slot * 2 + 1] = req.prior[p]
                oracle[slot * 2] = pClick
                oracle[slot * 2 + 1] = pBuy
                labels[slot * 2] = req.clicked[p] ? 1 : 0
                labels[slot * 2 + 1] = req.purchased[p] ? 1 : 0
            }
        }
        let qt: SafeTensorDType = c.float16 ? .F16 : .F32
        var tensors: [SafeTensorBlob] = [
            SafeTensorBlob("candidates", .I32, [n, k], candidates),
            SafeTensorBlob("behaviours", .I32, [n, l], behaviours),
            SafeTensorBlob("list_features", .F32, [n, k, 2], listFeatures),
            SafeTensorBlob("labels", .F32, [n, k, 2], labels),
            SafeTensorBlob("oracle", .F32, [n, k, 2], oracle),
        ]
        tensors.append(c.float16 ? SafeTensorBlob.half("query", [n, dq], query) : SafeTensorBlob("query", qt, [n, dq], query))
        tensors.append(SafeTensorBlob("user", .I32, [n, 2], user))
        tensors.append(SafeTensorBlob("request_id", .I64, [n], requestIDs))
        try SafeTensorsWriter.write(path: path, tensors: tensors,
                                    metadata: ["generator": "armmt-gpu data synth", "seed": String(c.seed)])
    }
}
