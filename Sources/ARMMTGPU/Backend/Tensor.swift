/// Element types a tensor can hold. Math ops take `.float32`; `.int32` holds indices
/// (embedding rows, candidate and behaviour indices). `.float16`/`.bfloat16` reserve the
/// storage layout (2 bytes an element) for mixed precision later.
public enum DType: String, Codable, Sendable {
    case float32, int32, float16, bfloat16

    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        }
    }
}

/// Memory a tensor lives in: host memory (CPU backend) or an OpenCL buffer.
public protocol TensorStorage: AnyObject {
    var byteCount: Int { get }
}

/// A dense, row-major tensor on one backend's device.
///
/// Tensors are handles: copying one shares its storage. The backend that made a tensor is the
/// only one that can read it; passing it to another is an error, not a silent copy.
public final class Tensor {
    public let shape: [Int]
    public let dtype: DType
    public let storage: TensorStorage

    /// Number of elements (product of `shape`; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }

    public init(shape: [Int], dtype: DType, storage: TensorStorage) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(storage.byteCount >= shape.reduce(1, *) * dtype.byteSize, "storage smaller than shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
    }
}

extension Array where Element == Int {
    /// `[2, 3, 4]` → "[2, 3, 4]"; used in error messages.
    var shapeDescription: String { "[" + map(String.init).joined(separator: ", ") + "]" }
}
