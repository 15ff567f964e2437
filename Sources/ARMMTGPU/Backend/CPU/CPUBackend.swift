import COpenBLAS

/// The CPU backend: OpenBLAS for GEMM, Swift loops elsewhere. It is the reference that every
/// OpenCL kernel is checked against, and the fallback on machines without a GPU.
public final class CPUBackend: Backend {
    public let kind = BackendKind.cpu
    public let blas = BLASInfo.current()
    public var name: String { "cpu (OpenBLAS \(blas.core), \(CPUVectorUnit.current.rawValue) fast paths, \(CPUParallel.cores) threads)" }
    /// Whether the Swift fast paths split work over cores (`CPUParallel`). Results are the same
    /// bits either way; `false` exists so tests can prove it.
    public let parallel: Bool
    /// Scratch reused across calls by the fast paths (CAFU's per-item intermediates).
    let scratch = CPUScratchPool()

    public init(parallel: Bool = true) {
        self.parallel = parallel
    }

    public func makeTensor(_ shape: [Int], dtype: DType) throws -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, dtype: dtype, storage: HostStorage(byteCount: count * dtype.byteSize))
    }

    /// The float32 contents of a CPU tensor.
    func host(_ t: Tensor, _ role: String) throws -> UnsafeMutablePointer<Float> {
        try Check.dtype(t, .float32, role)
        return try storage(t, role).raw.assumingMemoryBound(to: Float.self)
    }

    /// The int32 contents of a CPU tensor.
    func hostInt32(_ t: Tensor, _ role: String) throws -> UnsafeMutablePointer<Int32> {
        try Check.dtype(t, .int32, role)
        return try storage(t, role).raw.assumingMemoryBound(to: Int32.self)
    }

    private func storage(_ t: Tensor, _ role: String) throws -> HostStorage {
        guard let s = t.storage as? HostStorage else {
            throw EngineError.usage("\(role): tensor \(t.shape.shapeDescription) lives on another backend, not the CPU")
        }
        return s
    }

    public func write(_ values: [Float], to tensor: Tensor) throws {
        try Check.wholeWrite(values.count, tensor)
        try write(values, to: tensor, elementOffset: 0)
    }

    public func write(_ values: [Float], to tensor: Tensor, elementOffset: Int) throws {
        let p = try host(tensor, "write")
        try Check.range(elementOffset, values.count, in: tensor, "write")
        guard !values.isEmpty else { return }
        values.withUnsafeBufferPointer { (p + elementOffset).update(from: $0.baseAddress!, count: values.count) }
    }

    public func read(_ tensor: Tensor) throws -> [Float] {
        let p = try host(tensor, "read")
        return Array(UnsafeBufferPointer(start: p, count: tensor.count))
    }

    public func writeInt32(_ values: [Int32], to tensor: Tensor) throws {
        let p = try hostInt32(tensor, "write")
        try Check.wholeWrite(values.count, tensor)
        values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: values.count) }
    }

    public func readInt32(_ tensor: Tensor) throws -> [Int32] {
        let p = try hostInt32(tensor, "read")
        return Array(UnsafeBufferPointer(start: p, count: tensor.count))
    }

    public func fill(_ tensor: Tensor, with value: Float) throws {
        let p = try host(tensor, "fill")
        p.update(repeating: value, count: tensor.count)
    }

    public func synchronize() throws {}

    /// The CPU backend's tensors are host memory: the host gather writes straight into them.
    public var itemVectorBudgetBytes: Int { 0 }
}
