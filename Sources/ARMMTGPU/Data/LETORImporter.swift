import Foundation

/// One SVMlight/LETOR file parsed: documents in file order, grouped into queries.
public struct LETORFile: Sendable {
    public let path: String
    public var labels: [Float] = []
    /// Sparse features: document `d` holds `featureIndex/featureValue[starts[d] ..< starts[d + 1]]`.
    public var starts: [Int] = [0]
    public var featureIndex: [Int32] = []
    public var featureValue: [Float] = []
    /// Documents per query group, in file order.
    public var groups: [Int] = []
    public var maxFeatureIndex = -1

    public var documentCount: Int { labels.count }

    /// Parses `label [qid:Q] idx:val ... [# comment]` lines. Groups come from `queryPath` (one
    /// count per line, as LightGBM's `.query` files) when given, else from runs of equal `qid`.
    public init(path: String, queryPath: String?) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.usage("\(path): cannot read the LETOR file")
        }
        let text = String(decoding: data, as: UTF8.self)
        var qids: [Substring] = []
        var lineNumber = 0
        // Any line break: "\r\n" is one Character in Swift, so splitting on "\n" alone would
        // leave a CRLF file as one line (and put line breaks into error messages).
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if tokens.isEmpty { continue }
            func fail(_ m: String) -> EngineError { EngineError.runtime("\(path): line \(lineNumber): \(m)") }
            guard let label = Float(tokens[0]), label.isFinite, label >= 0 else {
                throw fail("label '\(tokens[0])' is not a finite number >= 0")
            }
            labels.append(label)
            var qid: Substring? = nil
            var previous = -1
            for token in tokens.dropFirst() {
                guard let colon = token.firstIndex(of: ":") else { throw fail("'\(token)' is not idx:value") }
                let key = token[..<colon], value = token[token.index(after: colon)...]
                if key == "qid" { qid = value; continue }
                guard let idx = Int(key), idx >= 0, idx < Int(Int32.max) else { throw fail("feature index '\(key)' is not an integer >= 0") }
                guard let v = Float(value), v.isFinite else { throw fail("feature \(idx) value '\(value)' is not a finite number") }
                if idx <= previous { throw fail("feature indices are not increasing at \(idx)") }
                previous = idx
                featureIndex.append(Int32(idx))
                featureValue.append(v)
                maxFeatureIndex = max(maxFeatureIndex, idx)
            }
            starts.append(featureIndex.count)
            if let qid { qids.append(qid) } else if queryPath == nil { throw fail("no qid: and no query file to group documents") }
        }
        if labels.isEmpty { throw EngineError.runtime("\(path): no documents") }
        if let queryPath {
            guard let q = FileManager.default.contents(atPath: queryPath) else {
                throw EngineError.usage("\(queryPath): cannot read the query file")
            }
            var n = 0
            for (i, line) in String(decoding: q, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { continue }
                guard let g = Int(t), g > 0 else { throw EngineError.runtime("\(queryPath): line \(i + 1): '\(t)' is not a group size > 0") }
                // Checked as the sum grows, which could otherwise overflow (a fuzzed input did).
                let (sum, overflow) = n.addingReportingOverflow(g)
                guard !overflow, sum <= labels.count else {
                    throw EngineError.runtime("\(queryPath): line \(i + 1): group sizes add up to \(overflow ? "more than \(Int.max)" : String(sum)) but \(path) has \(labels.count) documents")
                }
                groups.append(g)
                n += g
            }
            guard n == labels.count else {
                throw EngineError.runtime("\(queryPath): group sizes add up to \(n) but \(path) has \(labels.count) documents")
            }
        } else {
            var run = 0
            for (i, q) in qids.enumerated() {
                if i > 0 && q != qids[i - 1] { groups.append(run); run = 0 }
                run += 1
            }
            groups.append(run)
        }
    }

    /// Dense feature row of document `d` (missing features are 0, as in SVMlight).
    func dense(_ d: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        out.initialize(repeating: 0, count: width)
        for e in starts[d]..<starts[d + 1] where Int(featureIndex[e]) < width { out[Int(featureIndex[e])] = featureValue[e] }
    }
}

extension FeatureNormalization {
    /// `(x − mean) / std` in place for rows of `x` laid out `[n, F]`.
    public func apply(_ x: inout [Float]) {
        let f = mean.count
        guard f > 0 else { return }
        for i in x.indices { x[i] = Float((Double(x[i]) - mean[i % f]) / std[i % f]) }
    }
}

/// What `LETORImporter.importFiles` did.
public struct LETORImportReport: Codable, Sendable {
    public struct SplitReport: Codable, Sendable {
        public var name: String
        public var files: [String]
        public var documents: Int
        public var groups: Int
        public var requests: Int
        /// Groups longer than K_max, split into consecutive chunks of at most K_max documents.
        public var groupsSplit: Int
    }
    public var kMax: Int
    public var features: Int
    public var items: Int
    public var splits: [SplitReport]
}

/// SVMlight/LETOR files → a data set without text or image (docs/DATA.md, "LETOR import").
///
/// - Every document becomes one item (rows in file order: train files, then valid, then test)
///   and one candidate; its features become the candidate's list features `f0 … f{F−1}`
///   (F = largest feature index + 1), z-normalised with the mean and standard deviation of the
///   training documents only (std 0 → 1); the transform is stored in the schema.
/// - Each query group becomes one request with `request_id` = the group's running number over
///   all imported files. K_max defaults to the longest group, so nothing is cut. With a smaller
///   `kMax`, a longer group is split into consecutive chunks of at most K_max documents in file
///   order, each its own request with the same `request_id`; no document is dropped.
/// - Graded labels are kept as they are (target `relevance`).
public enum LETORImporter {
    public struct Input: Sendable {
        public var path: String
        public var queryPath: String?
        public init(path: String, queryPath: String? = nil) {
            self.path = path
            self.queryPath = queryPath
        }
    }

    @discardableResult
    public static func importFiles(train: [Input], valid: [Input] = [], test: [Input] = [], kMax requestedKMax: Int? = nil,
                                   into directory: String) throws -> LETORImportReport {
        guard !train.isEmpty else { throw EngineError.usage("import-letor: --train is required") }
        if let k = requestedKMax, k < 1 { throw EngineError.usage("import-letor: --k-max must be >= 1 (got \(k))") }
        let parts: [(String, [LETORFile])] = try [("train", train), ("valid", valid), ("test", test)].compactMap { name, inputs in
            inputs.isEmpty ? nil : (name, try inputs.map { try LETORFile(path: $0.path, queryPath: $0.queryPath) })
        }
        let width = (parts.flatMap(\.1).map(\.maxFeatureIndex).max() ?? -1) + 1
        let longest = parts.flatMap(\.1).flatMap(\.groups).max() ?? 1
        let kMax = requestedKMax ?? longest

        // Training statistics only (two passes in Double; missing features count as 0).
        var mean = [Double](repeating: 0, count: width), sq = [Double](repeating: 0, count: width)
        var n = 0
        for f in parts[0].1 {
            n += f.documentCount
            for e in f.featureIndex.indices { mean[Int(f.featureIndex[e])] += Double(f.featureValue[e]) }
        }
        for j in 0..<width { mean[j] /= Double(max(1, n)) }
        for f in parts[0].1 {
            // Σ (x − m)² = Σ over present (x − m)² + (absent count) · m².
            var present = [Int](repeating: 0, count: width)
            for e in f.featureIndex.indices {
                let j = Int(f.featureIndex[e])
                let d = Double(f.featureValue[e]) - mean[j]
                sq[j] += d * d
                present[j] += 1
            }
            for j in 0..<width { sq[j] += Double(f.documentCount - present[j]) * mean[j] * mean[j] }
        }
        let std = (0..<width).map { j -> Double in
            let s = (sq[j] / Double(max(1, n))).squareRoot()
            return s > 1e-12 ? s : 1
        }
        let norm = FeatureNormalization(mean: mean, std: std)

        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError.usage("\(directory): cannot create the output directory")
        }
        var item = 0, requestID = 0
        var entries: [SplitEntry] = [], reports: [LETORImportReport.SplitReport] = []
        for (name, files) in parts {
            var names: [String] = []
            var report = LETORImportReport.SplitReport(name: name, files: files.map(\.path), documents: 0, groups: 0, requests: 0, groupsSplit: 0)
            for (fi, f) in files.enumerated() {
                var chunks: [(start: Int, count: Int, id: Int)] = []
                var doc = 0
                for g in f.groups {
                    if g > kMax { report.groupsSplit += 1 }
                    var s = 0
                    while s < g {
                        chunks.append((doc + s, min(kMax, g - s), requestID))
                        s += kMax
                    }
                    doc += g
                    requestID += 1
                }
                let rows = chunks.count
                var cand = [Int32](repeating: -1, count: rows * kMax)
                var labels = [Float](repeating: 0, count: rows * kMax)
                var features = [Float](repeating: 0, count: rows * kMax * width)
                var ids = [Int64](repeating: 0, count: rows)
                var row = [Float](repeating: 0, count: width)
                for (r, c) in chunks.enumerated() {
                    ids[r] = Int64(c.id)
                    for j in 0..<c.count {
                        let d = c.start + j
                        cand[r * kMax + j] = Int32(item + d)
                        labels[r * kMax + j] = f.labels[d]
                        row.withUnsafeMutableBufferPointer { f.dense(d, width: width, into: $0.baseAddress!) }
                        let base = (r * kMax + j) * width
                        for q in 0..<width { features[base + q] = Float((Double(row[q]) - mean[q]) / std[q]) }
                    }
                }
                let file = files.count == 1 ? "\(name).safetensors" : String(format: "%@-%05d.safetensors", name, fi)
                try SafeTensorsWriter.write(path: directory + "/" + file, tensors: [
                    SafeTensorBlob("candidates", .I32, [rows, kMax], cand),
                    SafeTensorBlob("list_features", .F32, [rows, kMax, width], features),
                    SafeTensorBlob("labels", .F32, [rows, kMax, 1], labels),
                    SafeTensorBlob("request_id", .I64, [rows], ids),
                ], metadata: ["source": f.path])
                names.append(file)
                item += f.documentCount
                report.documents += f.documentCount
                report.groups += f.groups.count
                report.requests += rows
            }
            entries.append(SplitEntry(name: name, files: names))
            reports.append(report)
        }
        // No text, image or item columns: the item table only fixes the number of items.
        try SafeTensorsWriter.write(path: directory + "/items.safetensors", tensors: [], metadata: ["source": "LETOR import"])
        var source = ["generator": "armmt-gpu data import-letor", "train": train.map(\.path).joined(separator: ",")]
        if !valid.isEmpty { source["valid"] = valid.map(\.path).joined(separator: ",") }
        if !test.isEmpty { source["test"] = test.map(\.path).joined(separator: ",") }
        source["long_lists"] = "groups longer than k_max are split into consecutive chunks of k_max documents with the same request_id"
        let schema = DatasetSchema(
            dims: DatasetDims(text: 0, image: 0, query: 0, kMax: kMax, lMax: 0), items: item,
            listFeatures: (0..<width).map { "f\($0)" }, targets: ["relevance"], mainTarget: "relevance",
            splits: entries, listFeatureNormalization: norm, source: source)
        try schema.write(to: directory)
        return LETORImportReport(kMax: kMax, features: width, items: item, splits: reports)
    }
}
