/// Benchmarks of every model op at the default config's shapes, plus a large shape per family.
/// Bytes count each input read once and each output written once (the minimum traffic), so
/// GB/s is comparable with the copy probe; flops count multiply-adds as 2.
enum OpBenchmarks {
    typealias S = KernelBenchmarks.Shapes

    static func all(_ s: S, large: Bool) -> [KernelBenchmark] {
        var out: [KernelBenchmark] = []
        let itemRows = s.requests * (s.candidates + s.behaviours)
        let listRows = s.requests * s.candidates
        let scales = large ? [1, 8] : [1]
        for f in scales {
            let tag = f == 1 ? "default" : "large ×\(f)"
            out += layerNorm(rows: itemRows * f, d: s.width, tag: tag)
            out += biasGELU(rows: listRows * f, cols: 4 * s.width, tag: tag)
            out += cafu(items: listRows * f, d: s.width, tag: tag)
            // Behaviour cross-attention (candidates attend to behaviours) and list self-attention.
            out += attention(AttentionParameters(batch: s.requests * f, queryLength: s.candidates, keyLength: s.behaviours,
                                                 heads: s.heads, headDim: s.width / s.heads), tag: "behaviour \(tag)")
            out += attention(AttentionParameters(batch: s.requests * f, queryLength: s.candidates, keyLength: s.candidates,
                                                 heads: s.heads, headDim: s.width / s.heads), tag: "list \(tag)")
            out += embedding(rows: listRows * f, dim: 16, tableRows: 5000, tag: tag)
            // A feature of few values (a category, a bucket): each row is named ~1000 times.
            out += embedding(rows: listRows * f, dim: 16, tableRows: 8, tag: tag)
            out += losses(lists: s.requests * f, k: s.candidates, tag: tag)
            out.append(broadcast(requests: s.requests * f, k: s.candidates, d: s.width, tag: tag))
        }
        out += itemVectorGathers(items: s.items, textDim: s.textDim, imageDim: s.imageDim)
        out += optimizer(parameters: large ? 16 << 20 : 1 << 20, tag: large ? "16M params" : "1M params")
        return out
    }

    /// A default batch's distinct items (9,679 in a median `bench train` step) gathered from the
    /// item table's vectors kept on the device (`DeviceItemVectors`): a GPU's step reads these
    /// instead of receiving them from the host.
    static func itemVectorGathers(items: Int, textDim: Int, imageDim: Int) -> [KernelBenchmark] {
        let n = 9_679
        var rng = SeededRandom(seed: 19)
        var ids = Array(0..<Int32(items))
        for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, rng.index(i + 1)) }
        let indices = Array(ids.prefix(n))
        return [("text", textDim), ("image", imageDim)].map { name, dim in
            KernelBenchmark(op: "gather", shape: "n=\(n) dim=\(dim) table=\(items) item \(name) vectors", flops: 0,
                            bytes: Double(4 * (2 * n * dim + n))) { b in
                let table = try random(b, [items, dim], 1), idx = try b.tensor(int32: indices, shape: [n])
                let out = try b.makeTensor([n, dim])
                return { try b.embeddingGather(table: table, indices: idx, output: out) }
            }
        }
    }

    static func random(_ b: Backend, _ shape: [Int], _ seed: UInt64, _ lo: Double = -1, _ hi: Double = 1) throws -> Tensor {
        try KernelBenchmarks.randomTensor(b, shape, seed: seed, lo: lo, hi: hi)
    }

    static func layerNorm(rows: Int, d: Int, tag: String) -> [KernelBenchmark] {
        let p = LayerNormParameters(rows: rows, features: d)
        let shape = "rows=\(rows) d=\(d) \(tag)"
        let fwdBytes = Double(4 * (2 * rows * d + 2 * d + 2 * rows))
        let bwdBytes = Double(4 * (3 * rows * d + 2 * rows + 3 * d))
        return [
            KernelBenchmark(op: "layernorm", shape: "fwd " + shape, flops: Double(8 * rows * d), bytes: fwdBytes) { b in
                let x = try random(b, [rows, d], 1), g = try random(b, [d], 2), be = try random(b, [d], 3)
                let y = try b.makeTensor([rows, d]), mean = try b.makeTensor([rows]), rstd = try b.makeTensor([rows])
                return { try b.layerNormForward(p, x: x, gamma: g, beta: be, y: y, mean: mean, rstd: rstd) }
            },
            KernelBenchmark(op: "layernorm", shape: "bwd " + shape, flops: Double(12 * rows * d), bytes: bwdBytes) { b in
                let x = try random(b, [rows, d], 1), g = try random(b, [d], 2), be = try random(b, [d], 3)
                let y = try b.makeTensor([rows, d]), mean = try b.makeTensor([rows]), rstd = try b.makeTensor([rows])
                try b.layerNormForward(p, x: x, gamma: g, beta: be, y: y, mean: mean, rstd: rstd)
                let dy = try random(b, [rows, d], 4), dx = try b.makeTensor([rows, d])
                let dg = try b.makeTensor([d]), db = try b.makeTensor([d])
                return { try b.layerNormBackward(p, dy: dy, x: x, gamma: g, mean: mean, rstd: rstd, dx: dx, dGamma: dg, dBeta: db) }
            },
        ]
    }

    static func biasGELU(rows: Int, cols: Int, tag: String) -> [KernelBenchmark] {
        let p = BiasActivationParameters(.gelu, rows: rows, cols: cols)
        let shape = "rows=\(rows) cols=\(cols) \(tag)"
        return [
            KernelBenchmark(op: "bias+gelu", shape: "fwd " + shape, flops: Double(20 * rows * cols),
                            bytes: Double(4 * (2 * rows * cols + cols))) { b in
                let x = try random(b, [rows, cols], 1), bias = try random(b, [cols], 2), y = try b.makeTensor([rows, cols])
                return { try b.biasActivationForward(p, x: x, bias: bias, y: y) }
            },
            KernelBenchmark(op: "bias+gelu", shape: "bwd " + shape, flops: Double(30 * rows * cols),
                            bytes: Double(4 * (3 * rows * cols + 2 * cols))) { b in
                let x = try random(b, [rows, cols], 1), bias = try random(b, [cols], 2), dy = try random(b, [rows, cols], 3)
                let dx = try b.makeTensor([rows, cols]), db = try b.makeTensor([cols])
                return { try b.biasActivationBackward(p, dy: dy, x: x, bias: bias, dx: dx, dBias: db) }
            },
        ]
    }

    static func cafu(items n: Int, d: Int, tag: String) -> [KernelBenchmark] {
        let p = CAFUParameters(items: n, modalities: 2, width: d, contextWidth: 2 * d, hidden: 64, gate: .scalar)
        let m = p.modalities, h = p.hidden, dc = p.contextWidth, g = p.gateRows
        let weights = h * (d + dc) + h + g * h + g
        let fwdBytes = Double(4 * (n * m * d + n * m + n * dc + weights + n * d + n * m + n * h))
        let bwdBytes = Double(4 * (n * d + n * m * d + n * m + n * dc + weights + n * m + n * h + n * m * d + n * dc + weights))
        let mlpFlops = Double(2 * n * ((d + dc) * h + h * g))
        let shape = "N=\(n) M=\(m) d=\(d) ctx=\(dc) hidden=\(h) \(tag)"
        func inputs(_ b: Backend) throws -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) {
            var rng = SeededRandom(seed: 7)
            // Mostly both modalities present, some one, a few none: the data's real mix.
            let mask = (0..<(n * m)).map { _ in rng.unit() < 0.9 ? Float(1) : 0 }
            return (try random(b, [n, m, d], 1), try b.tensor(mask, shape: [n, m]), try random(b, [n, dc], 2),
                    try random(b, [h, d + dc], 3, -0.1, 0.1), try random(b, [h], 4, -0.1, 0.1),
                    try random(b, [g, h], 5, -0.1, 0.1), try random(b, [g], 6, -0.1, 0.1))
        }
        return [
            KernelBenchmark(op: "cafu", shape: "fwd " + shape, flops: mlpFlops, bytes: fwdBytes) { b in
                let (x, mask, ctx, w1, b1, w2, b2) = try inputs(b)
                let r = try b.makeTensor([n, d]), alpha = try b.makeTensor([n, m]), hp = try b.makeTensor([n, h])
                return { try b.cafuForward(p, x: x, mask: mask, context: ctx, w1: w1, b1: b1, w2: w2, b2: b2, r: r, alpha: alpha, hiddenPre: hp) }
            },
            KernelBenchmark(op: "cafu", shape: "bwd " + shape, flops: 2 * mlpFlops, bytes: bwdBytes) { b in
                let (x, mask, ctx, w1, b1, w2, b2) = try inputs(b)
                let r = try b.makeTensor([n, d]), alpha = try b.makeTensor([n, m]), hp = try b.makeTensor([n, h])
                try b.cafuForward(p, x: x, mask: mask, context: ctx, w1: w1, b1: b1, w2: w2, b2: b2, r: r, alpha: alpha, hiddenPre: hp)
                let dr = try random(b, [n, d], 8)
                let dx = try b.makeTensor([n, m, d]), dctx = try b.makeTensor([n, dc])
                let dw1 = try b.makeTensor([h, d + dc]), db1 = try b.makeTensor([h])
                let dw2 = try b.makeTensor([g, h]), db2 = try b.makeTensor([g])
                return {
                    try b.cafuBackward(p, dr: dr, dAlpha: nil, x: x, mask: mask, context: ctx, w1: w1, w2: w2, alpha: alpha,
                                       hiddenPre: hp, dx: dx, dContext: dctx, dW1: dw1, db1: db1, dW2: dw2, db2: db2)
                }
            },
        ]
    }

    static func attention(_ p: AttentionParameters, tag: String) -> [KernelBenchmark] {
        let q = [p.batch, p.queryLength, p.heads, p.headDim], kv = [p.batch, p.keyLength, p.heads, p.headDim]
        // Variable-length behaviour sequences: each request keeps a random prefix of its keys.
        var mask = [Float](repeating: 0, count: p.batch * p.keyLength)
        var rng = SeededRandom(seed: 11)
        for r in 0..<p.batch {
            let len = r % 17 == 0 ? 0 : 1 + rng.index(p.keyLength)
            for j in 0..<len { mask[r * p.keyLength + j] = 1 }
        }
        // Flops and K/V reads count the valid keys only (about half): that is the work a
        // correct implementation must do; counting padded keys credited work never done
        // (rooflines above 100%).
        let validKeys = Int(mask.reduce(0, +)), d = p.modelWidth
        let core = Double(p.heads * p.queryLength * validKeys * p.headDim)
        let fwdBytes = Double(4 * (2 * p.batch * p.queryLength * d + 2 * validKeys * d + p.batch * p.keyLength))
        // Reads Q, O, dO, valid K and V rows, the mask; writes dQ and every row of dK, dV.
        let bwdBytes = Double(4 * (4 * p.batch * p.queryLength * d + 2 * validKeys * d + p.batch * p.keyLength
                                   + 2 * p.batch * p.keyLength * d))
        let shape = "B=\(p.batch) Lq=\(p.queryLength) Lk=\(p.keyLength) H=\(p.heads) dh=\(p.headDim) \(tag)"
        func inputs(_ b: Backend) throws -> (Tensor, Tensor, Tensor, Tensor) {
            (try random(b, q, 1), try random(b, kv, 2), try random(b, kv, 3), try b.tensor(mask, shape: [p.batch, p.keyLength]))
        }
        return [
            KernelBenchmark(op: "attention", shape: "fwd " + shape, flops: 4 * core, bytes: fwdBytes) { b in
                let (tq, tk, tv, mask) = try inputs(b)
                let out = try b.makeTensor(q), lse = try b.makeTensor([p.batch, p.heads, p.queryLength])
                return { try b.attentionForward(p, q: tq, k: tk, v: tv, keyMask: mask, out: out, logSumExp: lse) }
            },
            // The unfused baseline (GEMM + masked softmax + GEMM) on the same inputs, credited
            // with the fused row's flops so GFLOP/s compare directly. Its bytes are what it moves:
            // every K and V row (the GEMMs do not skip padding) and the score matrix written and
            // read twice (score GEMMs → softmax in place → output GEMMs).
            KernelBenchmark(op: "attention-unfused", shape: "fwd " + shape, flops: 4 * core,
                            bytes: unfusedBytes(p)) { b in
                let (tq, tk, tv, mask) = try inputs(b)
                let out = try b.makeTensor(q), unfused = try UnfusedAttention(p, backend: b)
                return { try unfused.forward(q: tq, k: tk, v: tv, keyMask: mask, out: out) }
            },
            // Backward recomputes QKᵀ, then dV, dP, dQ, dK: five products of the forward's size.
            KernelBenchmark(op: "attention", shape: "bwd " + shape, flops: 10 * core, bytes: bwdBytes) { b in
                let (tq, tk, tv, mask) = try inputs(b)
                let out = try b.makeTensor(q), lse = try b.makeTensor([p.batch, p.heads, p.queryLength])
                try b.attentionForward(p, q: tq, k: tk, v: tv, keyMask: mask, out: out, logSumExp: lse)
                let dOut = try random(b, q, 4)
                let dq = try b.makeTensor(q), dk = try b.makeTensor(kv), dv = try b.makeTensor(kv)
                return { try b.attentionBackward(p, q: tq, k: tk, v: tv, keyMask: mask, out: out, logSumExp: lse,
                                                 dOut: dOut, dQ: dq, dK: dk, dV: dv) }
            },
        ]
    }

    /// Bytes of `UnfusedAttention.forward`: Q read, O written, all of K and V, the mask, and
    /// four passes over the `[B·H·Lq, Lk]` scores.
    static func unfusedBytes(_ p: AttentionParameters) -> Double {
        let d = p.modelWidth, scores = p.batch * p.heads * p.queryLength * p.keyLength
        return Double(4 * (2 * p.batch * p.queryLength * d + 2 * p.batch * p.keyLength * d + p.batch * p.keyLength + 4 * scores))
    }

    static func embedding(rows n: Int, dim: Int, tableRows: Int, tag: String) -> [KernelBenchmark] {
        var rng = SeededRandom(seed: 13)
        let indices = (0..<n).map { _ in rng.unit() < 0.05 ? Int32(-1) : Int32(rng.index(tableRows)) }
        let shape = "n=\(n) dim=\(dim) table=\(tableRows) \(tag)"
        return [
            KernelBenchmark(op: "gather", shape: shape, flops: 0, bytes: Double(4 * (2 * n * dim + n))) { b in
                let table = try random(b, [tableRows, dim], 1), idx = try b.tensor(int32: indices, shape: [n])
                let out = try b.makeTensor([n, dim])
                return { try b.embeddingGather(table: table, indices: idx, output: out) }
            },
            KernelBenchmark(op: "scatter_add", shape: shape, flops: Double(n * dim),
                            bytes: Double(4 * (n * dim + 2 * n))) { b in
                let plan = try b.upload(EmbeddingGatherPlan(indices: indices, tableRows: tableRows))
                let dOut = try random(b, [n, dim], 2), dTable = try b.makeTensor([tableRows, dim])
                try b.fill(dTable, with: 0)
                return { try b.embeddingBackward(plan: plan, dOutput: dOut, dTable: dTable) }
            },
        ]
    }

    static func losses(lists: Int, k: Int, tag: String) -> [KernelBenchmark] {
        let rows = lists * k, t = 2
        let shape = "lists=\(lists) K=\(k) T=\(t) \(tag)"
        func inputs(_ b: Backend) throws -> (Tensor, Tensor, Tensor, Tensor) {
            var rng = SeededRandom(seed: 17)
            let labels = (0..<(rows * t)).map { _ in rng.unit() < 0.1 ? Float(1 + rng.index(3)) : 0 }
            let mask = (0..<rows).map { i in i % k < k - (i / k) % 5 ? Float(1) : 0 }
            return (try random(b, [rows, t], 1, -4, 4), try b.tensor(labels, shape: [rows, t]), try b.tensor(mask, shape: [rows]),
                    try b.tensor([1, 0.5], shape: [t]))
        }
        let bytes = Double(4 * (3 * rows * t + rows + 2 * t))
        return [
            KernelBenchmark(op: "bce", shape: shape, flops: Double(8 * rows * t), bytes: bytes) { b in
                let (logits, labels, mask, w) = try inputs(b)
                let losses = try b.makeTensor([t]), d = try b.makeTensor([rows, t])
                return { try b.bceWithLogits(logits: logits, labels: labels, labelColumn: 0, rowMask: mask, weights: w, losses: losses, dLogits: d) }
            },
            KernelBenchmark(op: "listwise_ce", shape: shape, flops: Double(10 * rows * t), bytes: bytes) { b in
                let (logits, labels, mask, w) = try inputs(b)
                let m2 = try b.makeTensor([lists, k])
                try b.write(try b.read(mask), to: m2)
                let losses = try b.makeTensor([t]), skipped = try b.makeTensor([t], dtype: .int32), d = try b.makeTensor([rows, t])
                return { try b.listwiseSoftmaxCrossEntropy(logits: logits, labels: labels, labelColumn: 0, mask: m2, weights: w,
                                                           losses: losses, skipped: skipped, dLogits: d) }
            },
        ]
    }

    static func broadcast(requests: Int, k: Int, d: Int, tag: String) -> KernelBenchmark {
        let rows = requests * k
        let p = WindowCopy(rows: rows, cols: d, dstStride: 2 * d, repeatRows: k)
        return KernelBenchmark(op: "copyWindow", shape: "context → candidates rows=\(rows) cols=\(d) \(tag)", flops: 0,
                               bytes: Double(4 * (requests * d + rows * d))) { b in
            let src = try random(b, [requests, d], 1), dst = try b.makeTensor([rows, 2 * d])
            return { try b.copyWindow(p, from: src, to: dst) }
        }
    }

    static func optimizer(parameters n: Int, tag: String) -> [KernelBenchmark] {
        [
            KernelBenchmark(op: "grad_norm", shape: tag, flops: Double(2 * n), bytes: Double(4 * n)) { b in
                let g = try random(b, [n], 1), norm = try b.makeTensor([1]), scale = try b.makeTensor([1])
                return { try b.gradientNorm([g], maxNorm: 1, norm: norm, clipScale: scale) }
            },
            KernelBenchmark(op: "adamw", shape: tag, flops: Double(16 * n), bytes: Double(4 * 7 * n)) { b in
                let p = try random(b, [n], 1), g = try random(b, [n], 2), m = try random(b, [n], 3, -0.01, 0.01)
                let v = try random(b, [n], 4, 0, 0.01), scale = try b.tensor([0.5], shape: [1])
                return { try b.adamW(AdamWParameters(learningRate: 1e-3, step: 10), parameter: p, gradient: g, m: m, v: v, gradientScale: scale) }
            },
        ]
    }
}
