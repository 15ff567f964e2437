/// Which implementation a backend is.
public enum BackendKind: String, Codable, Sendable {
    case cpu, opencl
}

/// The interface model code is written against. Two implementations: `CPUBackend`
/// (OpenBLAS + Swift loops: the reference and the fallback) and `OpenCLBackend`.
///
/// Ops are enqueued in order and may run asynchronously; `read` and `synchronize` wait.
/// Every op validates its shapes and throws `EngineError` before touching memory, so a bad
/// call is a clear message rather than an out-of-bounds access on a device.
///
/// Ops come in families, one protocol per family in `Ops/` (GEMM, attention, LayerNorm, ...),
/// each implemented in `Backend/CPU/CPUBackend+Family.swift` and
/// `Backend/OpenCL/OpenCLBackend+Family.swift`.
public protocol Backend: AnyObject, GemmOps, CopyOps, EmbeddingOps, LossOps, OptimizerOps, AttentionOps, LayerNormOps, ElementwiseOps, CAFUOps, SoftmaxOps {
    var kind: BackendKind { get }
    /// Human-readable: "cpu (OpenBLAS ...)" or "opencl:0 (device name)".
    var name: String { get }

    /// A tensor with unspecified contents.
    func makeTensor(_ shape: [Int], dtype: DType) throws -> Tensor
    func write(_ values: [Float], to tensor: Tensor) throws
    /// Writes `values` into elements `elementOffset ..< elementOffset + values.count` of a
    /// float32 tensor (large tensors are filled in blocks, without a host copy of the whole).
    func write(_ values: [Float], to tensor: Tensor, elementOffset: Int) throws
    func read(_ tensor: Tensor) throws -> [Float]
    func writeInt32(_ values: [Int32], to tensor: Tensor) throws
    func readInt32(_ tensor: Tensor) throws -> [Int32]
    func fill(_ tensor: Tensor, with value: Float) throws
    /// Waits for every enqueued op.
    func synchronize() throws
    /// Bytes of item-table vectors a model may keep in this backend's memory to gather batches
    /// there (`DeviceItemVectors`); 0 when gathering on the host is as good.
    var itemVectorBudgetBytes: Int { get }
}

extension Backend {
    public func makeTensor(_ shape: [Int]) throws -> Tensor { try makeTensor(shape, dtype: .float32) }

    /// A new float32 tensor holding `values`.
    public func tensor(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard values.count == shape.reduce(1, *) else {
            throw EngineError.usage("tensor of shape \(shape.shapeDescription) needs \(shape.reduce(1, *)) values, got \(values.count)")
        }
        let t = try makeTensor(shape, dtype: .float32)
        try write(values, to: t)
        return t
    }

    /// A new int32 tensor holding `values`.
    public func tensor(int32 values: [Int32], shape: [Int]) throws -> Tensor {
        guard values.count == shape.reduce(1, *) else {
            throw EngineError.usage("tensor of shape \(shape.shapeDescription) needs \(shape.reduce(1, *)) values, got \(values.count)")
        }
        let t = try makeTensor(shape, dtype: .int32)
        try writeInt32(values, to: t)
        return t
    }
}

/// Shape and type checks shared by every op, so both backends reject the same calls with the
/// same message.
public enum Check {
    public static func dtype(_ t: Tensor, _ expected: DType, _ role: String) throws {
        guard t.dtype == expected else {
            throw EngineError.usage("\(role): expected a \(expected.rawValue) tensor, got \(t.dtype.rawValue) \(t.shape.shapeDescription)")
        }
    }

    public static func shape(_ t: Tensor, _ expected: [Int], _ role: String) throws {
        guard t.shape == expected else {
            throw EngineError.usage("\(role): expected shape \(expected.shapeDescription), got \(t.shape.shapeDescription)")
        }
    }

    /// A write of `count` values fills all of `t`.
    public static func wholeWrite(_ count: Int, _ t: Tensor) throws {
        guard count == t.count else { throw EngineError.usage("write: \(count) values into a tensor of \(t.count)") }
    }

    /// Elements `offset ..< offset + count` lie within `t`.
    public static func range(_ offset: Int, _ count: Int, in t: Tensor, _ role: String) throws {
        guard offset >= 0, count >= 0, offset + count <= t.count else {
            throw EngineError.usage("\(role): elements \(offset)..<\(offset + count) outside a tensor of \(t.count) (shape \(t.shape.shapeDescription))")
        }
    }

    public static func count(_ t: Tensor, _ expected: Int, _ role: String) throws {
        guard t.count == expected else {
            throw EngineError.usage("\(role): expected \(expected) elements, got \(t.count) (shape \(t.shape.shapeDescription))")
        }
    }
}
