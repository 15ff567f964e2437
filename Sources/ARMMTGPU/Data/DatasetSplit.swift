import Foundation

/// One split of a data set (train, valid, test, ...): requests in one or more shard files that
/// point into the item table. Request `r` of the split is row `r - start` of the shard holding it.
public final class DatasetSplit: @unchecked Sendable {
    public let name: String
    /// Number of requests over all shards.
    public let count: Int
    public let hasOracle: Bool
    public let hasRequestIDs: Bool
    public let schema: DatasetSchema

    struct Shard {
        let file: SafeTensorsFile
        let start: Int
        let rows: Int
        let candidates: TensorView
        let behaviours: TensorView?
        let listFeatures: TensorView?
        let labels: TensorView
        let query: TensorView?
        let user: TensorView?
        let oracle: TensorView?
        let requestID: TensorView?
    }
    let shards: [Shard]
    private let shardStarts: [Int]

    static func rules(_ s: DatasetSchema) -> [TensorRule] {
        let k = s.dims.kMax, t = s.targets.count
        return [
            TensorRule(name: "candidates", dtypes: TensorRule.indexTypes, shape: [nil, k], values: .index(upper: s.items), required: true),
            TensorRule(name: "behaviours", dtypes: TensorRule.indexTypes, shape: [nil, s.dims.lMax], values: .index(upper: s.items), required: s.dims.lMax > 0),
            TensorRule(name: "list_features", dtypes: TensorRule.floatTypes + [.F64], shape: [nil, k, s.listFeatures.count], values: .finite, required: !s.listFeatures.isEmpty),
            TensorRule(name: "labels", dtypes: TensorRule.labelTypes, shape: [nil, k, t], values: .nonNegative, required: true),
            TensorRule(name: "query", dtypes: TensorRule.floatTypes + [.F64], shape: [nil, s.dims.query], values: .finite, required: s.dims.query > 0),
            TensorRule(name: "user", dtypes: TensorRule.indexTypes, shape: [nil, s.userFeatures.count],
                       values: .categories(vocabs: s.userFeatures.map(\.vocab)), required: !s.userFeatures.isEmpty),
            TensorRule(name: "oracle", dtypes: TensorRule.floatTypes + [.F64], shape: [nil, k, t], values: .probability, required: false),
            TensorRule(name: "request_id", dtypes: TensorRule.indexTypes, shape: [nil], values: .finite, required: false),
        ]
    }

    /// Opens and fully validates every shard of `entry`.
    init(entry: SplitEntry, directory: String, schema: DatasetSchema) throws {
        name = entry.name
        self.schema = schema
        let rules = Self.rules(schema)
        var shards: [Shard] = []
        var start = 0
        for f in entry.files {
            let path = directory + "/" + f
            let (file, rowsOrNil) = try TensorChecker.open(path: path, rules: rules, rowSource: "candidates")
            let rows = rowsOrNil ?? 0
            if rows == 0 {
                throw EngineError.runtime("\(path): tensor 'candidates': split '\(entry.name)' shard has no requests (empty split)")
            }
            let candidates = try file.view("candidates")
            try TensorChecker.checkNonEmptyRows(candidates, what: "no valid candidate (every slot is -1)")
            func opt(_ n: String, _ width: Int = 1) throws -> TensorView? {
                width > 0 && file.info(n) != nil ? try file.view(n) : nil
            }
            shards.append(Shard(file: file, start: start, rows: rows, candidates: candidates,
                                behaviours: try opt("behaviours", schema.dims.lMax),
                                listFeatures: try opt("list_features", schema.listFeatures.count),
                                labels: try file.view("labels"),
                                query: try opt("query", schema.dims.query),
                                user: try opt("user", schema.userFeatures.count),
                                oracle: try opt("oracle"), requestID: try opt("request_id")))
            start += rows
        }
        for (what, has) in [("oracle", shards.map { $0.oracle != nil }), ("request_id", shards.map { $0.requestID != nil })] {
            if let first = has.first, let bad = has.firstIndex(where: { $0 != first }) {
                throw EngineError.runtime("\(shards[bad].file.path): tensor '\(what)': \(first ? "missing here but present" : "present here but missing") in \(shards[0].file.path); every shard of split '\(entry.name)' must agree")
            }
        }
        self.shards = shards
        shardStarts = shards.map(\.start)
        count = start
        hasOracle = shards[0].oracle != nil
        hasRequestIDs = shards[0].requestID != nil
    }

    /// Shard index and row of request `r`.
    func locate(_ r: Int) -> (Int, Int) {
        var lo = 0, hi = shardStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if shardStarts[mid] <= r { lo = mid } else { hi = mid - 1 }
        }
        return (lo, r - shardStarts[lo])
    }

    /// An empty batch shaped for this split.
    public func emptyBatch() -> Batch {
        Batch(kMax: schema.dims.kMax, lMax: schema.dims.lMax, listFeatureCount: schema.listFeatures.count,
              targetCount: schema.targets.count, queryDim: schema.dims.query, userFeatureCount: schema.userFeatures.count)
    }

    /// Assembles the requests `requests` (indices in `0 ..< count`) into a new batch.
    public func batch(_ requests: [Int]) throws -> Batch {
        var b = emptyBatch()
        try fill(&b, requests: requests)
        return b
    }

    /// Refills `batch` with `requests`, reusing its arrays' storage (no allocation once the
    /// arrays have reached the largest batch size).
    public func fill(_ batch: inout Batch, requests: [Int]) throws {
        for r in requests where r < 0 || r >= count {
            throw EngineError.usage("split '\(name)': request index \(r) outside [0, \(count))")
        }
        let b = requests.count
        let k = schema.dims.kMax, l = schema.dims.lMax, fl = schema.listFeatures.count
        let t = schema.targets.count, dq = schema.dims.query, fu = schema.userFeatures.count
        func resize<T>(_ a: inout [T], _ n: Int, _ zero: T) {
            if a.count != n { a = [T](repeating: zero, count: n) }
        }
        batch.requests = requests
        resize(&batch.candidates, b * k, 0)
        resize(&batch.candidateMask, b * k, 0)
        resize(&batch.behaviours, b * l, 0)
        resize(&batch.behaviourMask, b * l, 0)
        resize(&batch.listFeatures, b * k * fl, 0)
        resize(&batch.labels, b * k * t, 0)
        resize(&batch.query, b * dq, 0)
        resize(&batch.users, b * fu, 0)
        if hasOracle {
            var o = batch.oracle ?? []
            batch.oracle = nil
            resize(&o, b * k * t, 0)
            batch.oracle = o
        } else {
            batch.oracle = nil
        }
        if hasRequestIDs {
            var ids = batch.requestIDs ?? []
            batch.requestIDs = nil
            resize(&ids, b, 0)
            batch.requestIDs = ids
        } else {
            batch.requestIDs = nil
        }
        for (i, r) in requests.enumerated() {
            let (si, row) = locate(r)
            let s = shards[si]
            batch.candidates.withUnsafeMutableBufferPointer { s.candidates.copyInt32s(from: row * k, count: k, into: $0.baseAddress! + i * k) }
            for j in 0..<k {
                let valid = batch.candidates[i * k + j] >= 0
                batch.candidateMask[i * k + j] = valid ? 1 : 0
            }
            if l > 0 {
                batch.behaviours.withUnsafeMutableBufferPointer { p in
                    if let v = s.behaviours { v.copyInt32s(from: row * l, count: l, into: p.baseAddress! + i * l) }
                    else { (p.baseAddress! + i * l).initialize(repeating: -1, count: l) }
                }
                for j in 0..<l { batch.behaviourMask[i * l + j] = batch.behaviours[i * l + j] >= 0 ? 1 : 0 }
            }
            if fl > 0 {
                batch.listFeatures.withUnsafeMutableBufferPointer { p in
                    let dst = p.baseAddress! + i * k * fl
                    if let v = s.listFeatures { v.copyFloats(from: row * k * fl, count: k * fl, into: dst) }
                    else { dst.initialize(repeating: 0, count: k * fl) }
                }
            }
            batch.labels.withUnsafeMutableBufferPointer { s.labels.copyFloats(from: row * k * t, count: k * t, into: $0.baseAddress! + i * k * t) }
            if dq > 0, let v = s.query {
                batch.query.withUnsafeMutableBufferPointer { v.copyFloats(from: row * dq, count: dq, into: $0.baseAddress! + i * dq) }
            }
            if fu > 0, let v = s.user {
                batch.users.withUnsafeMutableBufferPointer { v.copyInt32s(from: row * fu, count: fu, into: $0.baseAddress! + i * fu) }
            }
            if let v = s.oracle {
                batch.oracle!.withUnsafeMutableBufferPointer { v.copyFloats(from: row * k * t, count: k * t, into: $0.baseAddress! + i * k * t) }
            }
            if let v = s.requestID { batch.requestIDs![i] = v.integer(row) }
            // Padding slots carry no features or labels, whatever the file holds there.
            for j in 0..<k where batch.candidates[i * k + j] < 0 {
                for f in 0..<fl { batch.listFeatures[(i * k + j) * fl + f] = 0 }
                for q in 0..<t {
                    batch.labels[(i * k + j) * t + q] = 0
                    if batch.oracle != nil { batch.oracle![(i * k + j) * t + q] = 0 }
                }
            }
        }
    }
}
