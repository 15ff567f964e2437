import Foundation
import Kernels

extension OpenCLBuffer: TensorStorage {}

/// The OpenCL backend: each op is one or a few kernels from `Sources/Kernels`, enqueued on
/// the device's in-order queue. Programs are built on first use (through the disk cache)
/// with the device's preamble.
public final class OpenCLBackend: Backend {
    public let kind = BackendKind.opencl
    public let context: OpenCLContext
    public let tuning: DeviceTuning
    public let cache: KernelCache?
    public var name: String { "opencl:\(context.info.index) (\(context.info.name))" }

    private var programs: [String: OpenCLProgram] = [:]
    private var kernels: [String: OpenCLKernel] = [:]
    private var scratchBuffers: [String: OpenCLBuffer] = [:]

    public init(deviceIndex: Int, cache: KernelCache? = KernelCache(directory: KernelCache.defaultDirectory()),
                tuning: DeviceTuning? = nil, inventory: OpenCLInventory = .shared) throws {
        context = try OpenCLContext(deviceIndex: deviceIndex, inventory: inventory)
        if let tuning {
            try tuning.gemm.validate(for: context.info, source: "the given")
            self.tuning = tuning
        } else {
            self.tuning = try DeviceTuning.forDevice(context.info, environment: ProcessInfo.processInfo.environment)
        }
        context.stagesWrites = self.tuning.stagedWrites
        self.cache = cache
    }

    /// Builds (or fetches from cache) the program for one kernel family.
    public func program(_ family: String, source: String) throws -> OpenCLProgram {
        if let p = programs[family] { return p }
        let full = tuning.preamble(for: context.info) + KernelSources.common + "\n" + source
        let p = try OpenCLProgram.build(name: family, source: full, options: "", context: context, cache: cache)
        programs[family] = p
        return p
    }

    /// Builds every kernel family now, so compile time stays out of timings.
    public func compileAll() throws {
        for (family, source) in KernelSources.all { _ = try program(family, source: source) }
    }

    public func kernel(_ name: String, family: String, source: String) throws -> OpenCLKernel {
        if let k = kernels[name] { return k }
        let k = try program(family, source: source).kernel(name)
        kernels[name] = k
        return k
    }

    /// Device scratch of at least `byteCount` bytes for one role of a multi-pass op (its
    /// partial sums), kept across calls and regrown when too small. Otherwise a training step
    /// would create and release dozens of buffers, each released while its kernels are still
    /// queued, which a driver may answer by waiting for them. Reuse is safe on the in-order
    /// queue: the next op's kernels start after the last op's are done with the buffer. Each
    /// role belongs to one op, which never calls another op between the passes that share it.
    func scratch(_ role: String, byteCount: Int) throws -> OpenCLBuffer {
        if let b = scratchBuffers[role], b.byteCount >= byteCount { return b }
        let b = try context.makeBuffer(byteCount: byteCount)
        scratchBuffers[role] = b
        return b
    }

    /// The buffer of a float32 tensor on this device (`dtype` for other element types).
    func buffer(_ t: Tensor, _ role: String, dtype: DType = .float32) throws -> OpenCLBuffer {
        guard let b = t.storage as? OpenCLBuffer, b.context === context else {
            throw EngineError.usage("\(role): tensor \(t.shape.shapeDescription) lives on another backend, not \(name)")
        }
        try Check.dtype(t, dtype, role)
        return b
    }

    public func makeTensor(_ shape: [Int], dtype: DType) throws -> Tensor {
        let count = shape.reduce(1, *)
        guard count < Int(Int32.max) else {
            throw EngineError.usage("tensor \(shape.shapeDescription) has \(count) elements; kernels index with 32 bits")
        }
        return Tensor(shape: shape, dtype: dtype, storage: try context.makeBuffer(byteCount: count * dtype.byteSize))
    }

    public func write(_ values: [Float], to tensor: Tensor) throws {
        try Check.wholeWrite(values.count, tensor)
        try write(values, to: tensor, elementOffset: 0)
    }

    public func write(_ values: [Float], to tensor: Tensor, elementOffset: Int) throws {
        let b = try buffer(tensor, "write")
        try Check.range(elementOffset, values.count, in: tensor, "write")
        try values.withUnsafeBytes { try b.write(from: $0, offset: elementOffset * MemoryLayout<Float>.size) }
    }

    public func read(_ tensor: Tensor) throws -> [Float] {
        let b = try buffer(tensor, "read")
        var out = [Float](repeating: 0, count: tensor.count)
        try out.withUnsafeMutableBytes { try b.read(into: $0) }
        return out
    }

    public func writeInt32(_ values: [Int32], to tensor: Tensor) throws {
        let b = try buffer(tensor, "write", dtype: .int32)
        try Check.wholeWrite(values.count, tensor)
        try values.withUnsafeBytes { try b.write(from: $0) }
    }

    public func readInt32(_ tensor: Tensor) throws -> [Int32] {
        let b = try buffer(tensor, "read", dtype: .int32)
        var out = [Int32](repeating: 0, count: tensor.count)
        try out.withUnsafeMutableBytes { try b.read(into: $0) }
        return out
    }

    public func fill(_ tensor: Tensor, with value: Float) throws {
        guard let b = tensor.storage as? OpenCLBuffer, b.context === context else {
            throw EngineError.usage("fill: tensor \(tensor.shape.shapeDescription) lives on another backend, not \(name)")
        }
        try b.fill(value, byteCount: tensor.count * tensor.dtype.byteSize)
    }

    public func synchronize() throws { try context.finish() }

    public var itemVectorBudgetBytes: Int { tuning.itemVectorBudgetBytes }
}
