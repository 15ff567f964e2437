/// A row-major matrix inside a tensor: `rows × cols` starting at element `offset`, `ld`
/// elements between rows. Lets layers read and write column windows of concatenations
/// (`[h_I ⊕ h_P]`, the packed Q/K projections) without copies.
struct Slab {
    let tensor: Tensor
    var offset = 0
    var ld: Int

    init(_ tensor: Tensor, ld: Int, offset: Int = 0) {
        self.tensor = tensor
        self.ld = ld
        self.offset = offset
    }

    /// A dense `[rows, cols]` tensor.
    init(_ tensor: Tensor) {
        self.init(tensor, ld: tensor.shape.last ?? 1)
    }

    /// Columns `from ..< from + n` of this slab.
    func columns(_ from: Int) -> Slab { Slab(tensor, ld: ld, offset: offset + from) }
}

/// The four GEMMs of a linear map with weight W `[outputs, inputs]` over `rows` rows, shared by
/// `Linear` and `LinearGroup` (whose W is the layers' weights stacked).
enum LinearGEMM {
    /// `y (+)= x·Wᵀ (+ b)`.
    static func forward(_ be: Backend, rows: Int, inputs: Int, outputs: Int, x: Slab, weight: Tensor, bias: Tensor?,
                        y: Slab, accumulate: Bool = false) throws {
        var p = GemmParameters(m: rows, n: outputs, k: inputs, transB: true, beta: accumulate ? 1 : 0)
        p.lda = max(1, x.ld)
        p.offsetA = x.offset
        p.ldc = y.ld
        p.offsetC = y.offset
        try be.gemm(p, a: x.tensor, b: weight, c: y.tensor, bias: bias)
    }

    /// `dW = dyᵀ·x`.
    static func weightGradient(_ be: Backend, rows: Int, inputs: Int, outputs: Int, dy: Slab, x: Slab, dW: Tensor) throws {
        var w = GemmParameters(m: outputs, n: inputs, k: rows, transA: true)
        w.lda = dy.ld
        w.offsetA = dy.offset
        w.ldb = max(1, x.ld)
        w.offsetB = x.offset
        try be.gemm(w, a: dy.tensor, b: x.tensor, c: dW, bias: nil)
    }

    /// `db = 1ᵀ·dy`; `ones` holds at least `rows` ones.
    static func biasGradient(_ be: Backend, rows: Int, outputs: Int, dy: Slab, ones: Tensor, db: Tensor) throws {
        var b = GemmParameters(m: 1, n: outputs, k: rows)
        b.lda = max(1, rows)
        b.ldb = dy.ld
        b.offsetB = dy.offset
        try be.gemm(b, a: ones, b: dy.tensor, c: db, bias: nil)
    }

    /// `dx (+)= dy·W`.
    static func inputGradient(_ be: Backend, rows: Int, inputs: Int, outputs: Int, dy: Slab, weight: Tensor,
                              dx: Slab, accumulate: Bool) throws {
        var g = GemmParameters(m: rows, n: inputs, k: outputs, beta: accumulate ? 1 : 0)
        g.lda = dy.ld
        g.offsetA = dy.offset
        g.ldc = dx.ld
        g.offsetC = dx.offset
        try be.gemm(g, a: dy.tensor, b: weight, c: dx.tensor, bias: nil)
    }
}

/// A Linear layer `y = x·Wᵀ + b`, W `[out, in]` and b `[out]` (PyTorch layout and init), on
/// every row of a batch at once (one GEMM).
final class Linear {
    let weight: Parameter
    let bias: Parameter?
    let inputs: Int
    let outputs: Int

    init(_ f: ParameterFactory, _ name: String, inputs: Int, outputs: Int, bias: Bool = true) throws {
        self.inputs = inputs
        self.outputs = outputs
        weight = try f.uniform(name + ".weight", [outputs, inputs], fanIn: inputs)
        self.bias = bias ? try f.uniform(name + ".bias", [outputs], fanIn: inputs) : nil
    }

    /// `y (+)= x·Wᵀ (+ b)` over `rows` rows. `addBias: false` leaves the bias to a fused
    /// bias+activation op that follows.
    func forward(_ be: Backend, rows: Int, x: Slab, y: Slab, addBias: Bool = true, accumulate: Bool = false) throws {
        try LinearGEMM.forward(be, rows: rows, inputs: inputs, outputs: outputs, x: x, weight: weight.value,
                               bias: addBias ? bias?.value : nil, y: y, accumulate: accumulate)
    }

    /// From `dy = ∂L/∂y` over `rows` rows and the forward's `x`: writes `dW = dyᵀ·x` and, unless
    /// `biasGradient` is false (a fused bias+activation backward wrote it), `db = 1ᵀ·dy`;
    /// `dx (+)= dy·W` when `dx` is given. `ones` holds at least `rows` ones.
    func backward(_ be: Backend, rows: Int, dy: Slab, x: Slab, dx: Slab?, accumulateDX: Bool = false,
                  ones: Tensor, biasGradient: Bool = true) throws {
        try LinearGEMM.weightGradient(be, rows: rows, inputs: inputs, outputs: outputs, dy: dy, x: x, dW: weight.grad)
        if biasGradient, let bias {
            try LinearGEMM.biasGradient(be, rows: rows, outputs: outputs, dy: dy, ones: ones, db: bias.grad)
        }
        if let dx {
            try LinearGEMM.inputGradient(be, rows: rows, inputs: inputs, outputs: outputs, dy: dy, weight: weight.value,
                                         dx: dx, accumulate: accumulateDX)
        }
    }

    var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// Linear layers with biases that read the same input and write adjacent output columns, run
/// as one GEMM each way (`y = x·[W_1; W_2; …]ᵀ + [b_1 ⊕ b_2 ⊕ …]`): the same dot products as the
/// layers one by one, in one wider GEMM instead of several narrow ones. The parameters stay the
/// layers' own; their current values are packed before each forward (a few KB) and the packed
/// gradients are copied back to them after each backward.
final class LinearGroup {
    let layers: [Linear]
    let inputs: Int
    let outputs: Int
    private let weight: Tensor
    private let bias: Tensor
    private let dWeight: Tensor
    private let dBias: Tensor

    init(_ be: Backend, _ layers: [Linear]) throws {
        precondition(!layers.isEmpty && layers.allSatisfy { $0.inputs == layers[0].inputs && $0.bias != nil })
        self.layers = layers
        inputs = layers[0].inputs
        outputs = layers.reduce(0) { $0 + $1.outputs }
        weight = try be.makeTensor([outputs, inputs])
        bias = try be.makeTensor([outputs])
        dWeight = try be.makeTensor([outputs, inputs])
        dBias = try be.makeTensor([outputs])
    }

    /// `y = x·Wᵀ + b` over `rows` rows, `y` `outputs` columns wide (layer i's at its offset).
    func forward(_ be: Backend, rows: Int, x: Slab, y: Slab) throws {
        var row = 0
        for layer in layers {
            try be.copyColumns(rows: layer.outputs, cols: inputs, from: Slab(layer.weight.value), to: Slab(weight, ld: inputs, offset: row * inputs))
            try be.copyColumns(rows: 1, cols: layer.outputs, from: Slab(layer.bias!.value, ld: layer.outputs),
                               to: Slab(bias, ld: outputs, offset: row))
            row += layer.outputs
        }
        try LinearGEMM.forward(be, rows: rows, inputs: inputs, outputs: outputs, x: x, weight: weight, bias: bias, y: y)
    }

    /// Every layer's `dW = dyᵀ·x` and `db = 1ᵀ·dy`; `dx (+)= dy·W` when `dx` is given.
    func backward(_ be: Backend, rows: Int, dy: Slab, x: Slab, dx: Slab?, accumulateDX: Bool = false, ones: Tensor) throws {
        try LinearGEMM.weightGradient(be, rows: rows, inputs: inputs, outputs: outputs, dy: dy, x: x, dW: dWeight)
        try LinearGEMM.biasGradient(be, rows: rows, outputs: outputs, dy: dy, ones: ones, db: dBias)
        var row = 0
        for layer in layers {
            try be.copyColumns(rows: layer.outputs, cols: inputs, from: Slab(dWeight, ld: inputs, offset: row * inputs), to: Slab(layer.weight.grad))
            try be.copyColumns(rows: 1, cols: layer.outputs, from: Slab(dBias, ld: outputs, offset: row),
                               to: Slab(layer.bias!.grad, ld: layer.outputs))
            row += layer.outputs
        }
        if let dx {
            try LinearGEMM.inputGradient(be, rows: rows, inputs: inputs, outputs: outputs, dy: dy, weight: weight,
                                         dx: dx, accumulate: accumulateDX)
        }
    }
}

/// LayerNorm over the last dimension with its saved statistics, for up to `rows` rows.
final class LayerNormLayer {
    let gamma: Parameter
    let beta: Parameter
    let rows: Int
    let features: Int
    private let mean: Tensor
    private let rstd: Tensor

    init(_ f: ParameterFactory, _ name: String, rows: Int, features: Int) throws {
        gamma = try f.constant(name + ".weight", [features], 1)
        beta = try f.constant(name + ".bias", [features], 0)
        self.rows = rows
        self.features = features
        mean = try f.backend.makeTensor([rows])
        rstd = try f.backend.makeTensor([rows])
    }

    /// Over the first `rows` rows (all by default) of `x` and `y`, which hold at least that many.
    func forward(_ be: Backend, x: Tensor, y: Tensor, rows: Int? = nil) throws {
        let r = rows ?? self.rows, rd = [r, features]
        try be.layerNormForward(LayerNormParameters(rows: r, features: features), x: x.view(rd), gamma: gamma.value,
                                beta: beta.value, y: y.view(rd), mean: mean.view([r]), rstd: rstd.view([r]))
    }

    /// The backward of the last `forward` (same `rows`).
    func backward(_ be: Backend, dy: Tensor, x: Tensor, dx: Tensor, rows: Int? = nil) throws {
        let r = rows ?? self.rows, rd = [r, features]
        try be.layerNormBackward(LayerNormParameters(rows: r, features: features), dy: dy.view(rd), x: x.view(rd),
                                 gamma: gamma.value, mean: mean.view([r]), rstd: rstd.view([r]), dx: dx.view(rd),
                                 dGamma: gamma.grad, dBeta: beta.grad)
    }
}

extension Tensor {
    /// The leading `shape.reduce(1, *)` elements of this tensor as a tensor of `shape` (shares
    /// the storage; `self` when the shape is already that): per-batch sizes inside tensors
    /// allocated once for the largest batch.
    func view(_ shape: [Int]) -> Tensor {
        shape == self.shape ? self : Tensor(shape: shape, dtype: dtype, storage: storage)
    }
}

extension Backend {
    /// `dst[:, dstCol ..< dstCol+cols] (+)= src[:, srcCol ..< srcCol+cols]` over `rows` rows,
    /// each source row feeding `repeatRows` destination rows.
    func copyColumns(rows: Int, cols: Int, from src: Slab, to dst: Slab, repeatRows: Int = 1, accumulate: Bool = false) throws {
        try copyWindow(WindowCopy(rows: rows, cols: cols, srcStride: src.ld, dstStride: dst.ld, srcOffset: src.offset,
                                  dstOffset: dst.offset, repeatRows: repeatRows, accumulate: accumulate),
                       from: src.tensor, to: dst.tensor)
    }

    /// `dst[g, :] (+)= Σ_{j<size} src[g·size + j, :]`: the adjoint of a broadcast to `size` rows.
    func sumRows(groups: Int, size: Int, cols: Int, from src: Slab, to dst: Slab, accumulate: Bool = false) throws {
        try sumGroups(GroupSum(groups: groups, groupSize: size, cols: cols, srcStride: src.ld, dstStride: dst.ld,
                               srcOffset: src.offset, dstOffset: dst.offset, accumulate: accumulate),
                      from: src.tensor, to: dst.tensor)
    }

    /// `x[b, :] += table` for every one of `batch` rows of width `table.count` (a learned
    /// per-slot embedding added to each request's slots): a window copy that repeats table's one
    /// row `batch` times, adding. Each element is `x + table`, the bits of the rank-1 GEMM
    /// `ones[B]·table` this was; as a GEMM (too few rows to split) it ran on one core.
    func addToEveryRow(batch: Int, table: Tensor, x: Tensor) throws {
        try copyWindow(WindowCopy(rows: batch, cols: table.count, repeatRows: max(batch, 1), accumulate: true),
                       from: table, to: x)
    }

    /// `dTable (+)= Σ_b dx[b, :]`: the adjoint of `addToEveryRow`.
    func sumEveryRow(batch: Int, dx: Tensor, dTable: Tensor, ones: Tensor, accumulate: Bool = false) throws {
        var p = GemmParameters(m: 1, n: dTable.count, k: batch, beta: accumulate ? 1 : 0)
        p.lda = max(1, batch)
        try gemm(p, a: ones, b: dx, c: dTable, bias: nil)
    }
}
