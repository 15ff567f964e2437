import COpenCL
import Foundation

/// One OpenCL device with its context and an in-order, profiling-enabled command queue.
///
/// In-order execution is what lets ops be enqueued back to back without events: each kernel
/// sees the writes of the one before it. Released in `deinit` (queue first, then context).
public final class OpenCLContext {
    public let info: OpenCLDeviceInfo
    let device: cl_device_id
    let context: cl_context
    let queue: cl_command_queue
    /// True on the Oclgrind simulator: see `OclgrindShadowWorkaround`.
    let onOclgrind: Bool
    /// What this context's live buffers hold; buffers keep it alive, so it may outlive the context.
    public let memory = OpenCLMemoryAccount()
    /// Whether writes are copied into pinned staging and enqueued without waiting
    /// (`OpenCLUploadStaging`); false (the default, until a backend applies its tuning) makes
    /// every write blocking, from the caller's memory.
    public var stagesWrites = false
    private(set) var staging: OpenCLUploadStaging?
    /// Kernels enqueued so far (each costs the host a launch, whatever its size).
    public internal(set) var kernelLaunches = 0

    public init(deviceIndex: Int, inventory: OpenCLInventory = .shared) throws {
        guard inventory.devices.indices.contains(deviceIndex) else {
            throw EngineError.usage(DeviceSelector.missingDeviceMessage(deviceIndex, inventory))
        }
        info = inventory.devices[deviceIndex]
        onOclgrind = info.platform.localizedCaseInsensitiveContains("oclgrind")
        device = inventory.deviceIDs[deviceIndex]
        var status: cl_int = 0
        var dev: cl_device_id? = device
        guard let ctx = clCreateContext(nil, 1, &dev, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(status: status, operation: "creating a context on \(info.name)")
        }
        context = ctx
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let q = clCreateCommandQueue(ctx, device, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(ctx)
            throw OpenCLError(status: status, operation: "creating a command queue on \(info.name)")
        }
        queue = q
    }

    deinit {
        clFinish(queue)
        staging = nil
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Blocks until every enqueued command has completed.
    public func finish() throws {
        try clCheck(clFinish(queue), "waiting for the queue on \(info.name)")
        queueDrained()
    }

    /// Every command enqueued so far has completed (after `finish` or a blocking read).
    func queueDrained() { staging?.queueDrained() }

    /// `source` copied into the upload staging, valid until the queue drains; nil when the write
    /// should block on the caller's memory instead (staging off, or a write larger than it takes).
    func staged(_ source: UnsafeRawBufferPointer) throws -> UnsafeRawPointer? {
        guard stagesWrites else { return nil }
        if staging == nil { staging = OpenCLUploadStaging(context: context, queue: queue) }
        return try staging!.stage(source) { try finish() }
    }

    /// Allocates `byteCount` bytes of device memory (uninitialised).
    public func makeBuffer(byteCount: Int) throws -> OpenCLBuffer {
        try OpenCLBuffer(context: self, byteCount: byteCount)
    }
}

/// Device memory owned by this object; released in `deinit`.
public final class OpenCLBuffer {
    let mem: cl_mem
    public let byteCount: Int
    unowned let context: OpenCLContext
    private let account: OpenCLMemoryAccount
    private let retireOnRelease: Bool

    init(context: OpenCLContext, byteCount: Int) throws {
        let info = context.info
        if UInt64(byteCount) > info.maxAllocationBytes && info.maxAllocationBytes > 0 {
            throw EngineError.runtime(
                "cannot allocate \(formatBytes(UInt64(byteCount))) on \(info.name): its largest single allocation is \(formatBytes(info.maxAllocationBytes)) (global memory \(formatBytes(info.globalMemoryBytes)))")
        }
        let held = context.memory.liveBytes
        if info.globalMemoryBytes > 0 && UInt64(held + byteCount) > info.globalMemoryBytes {
            let free = info.globalMemoryBytes > UInt64(held) ? info.globalMemoryBytes - UInt64(held) : 0
            throw EngineError.runtime(
                "cannot allocate \(formatBytes(UInt64(byteCount))) on \(info.name): \(formatBytes(free)) of its \(formatBytes(info.globalMemoryBytes)) global memory is left (\(formatBytes(UInt64(held))) held in \(context.memory.liveBuffers) buffers)")
        }
        var status: cl_int = 0
        // OpenCL rejects zero-sized buffers; an empty tensor still gets a valid handle.
        let size = max(byteCount, 4)
        guard let m = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &status),
              status == CL_SUCCESS else {
            throw OpenCLError(status: status,
                operation: "allocating \(formatBytes(UInt64(byteCount))) on \(info.name) (global memory \(formatBytes(info.globalMemoryBytes)))")
        }
        mem = m
        self.byteCount = byteCount
        self.context = context
        account = context.memory
        retireOnRelease = context.onOclgrind
        account.add(bytes: byteCount, buffers: 1)
    }

    deinit {
        account.add(bytes: -byteCount, buffers: -1)
        if retireOnRelease {
            OclgrindShadowWorkaround.retire(mem)
        } else {
            clReleaseMemObject(mem)
        }
    }

    /// Copies host bytes in; the host memory only has to live for the call. Enqueued without
    /// waiting from a staged copy (`OpenCLUploadStaging`), or blocking when not staged.
    public func write(from source: UnsafeRawBufferPointer, offset: Int = 0) throws {
        guard source.count > 0 else { return }
        precondition(offset + source.count <= byteCount, "write past the end of a device buffer")
        let staged = try context.staged(source)
        try clCheck(clEnqueueWriteBuffer(context.queue, mem, cl_bool(staged == nil ? CL_TRUE : CL_FALSE), offset, source.count,
                                         staged ?? source.baseAddress, 0, nil, nil),
                    "copying \(formatBytes(UInt64(source.count))) to \(context.info.name)")
        account.wrote(bytes: source.count)
    }

    /// Copies device bytes out. Blocking: it also waits for every kernel enqueued before it.
    public func read(into destination: UnsafeMutableRawBufferPointer, offset: Int = 0) throws {
        guard destination.count > 0 else { return }
        precondition(offset + destination.count <= byteCount, "read past the end of a device buffer")
        try clCheck(clEnqueueReadBuffer(context.queue, mem, cl_bool(CL_TRUE), offset, destination.count,
                                        destination.baseAddress, 0, nil, nil),
                    "copying \(formatBytes(UInt64(destination.count))) from \(context.info.name)")
        context.queueDrained()
    }

    /// Sets `byteCount` bytes from the start to repeated `value` (enqueued; the pattern is
    /// copied by the driver at enqueue time, so the local needs no longer life).
    public func fill(_ value: Float, byteCount count: Int) throws {
        guard count > 0 else { return }
        if context.onOclgrind && count == byteCount && count % MemoryLayout<Float>.size == 0 {
            let values = [Float](repeating: value, count: count / MemoryLayout<Float>.size)
            try values.withUnsafeBytes { try write(from: $0) }
            return
        }
        var pattern = value
        try clCheck(clEnqueueFillBuffer(context.queue, mem, &pattern, MemoryLayout<Float>.size, 0, count, 0, nil, nil),
                    "filling \(formatBytes(UInt64(count))) on \(context.info.name)")
    }

    /// Device-to-device copy, enqueued (not blocking).
    public func copy(from source: OpenCLBuffer, sourceOffset: Int = 0, offset: Int = 0, byteCount count: Int) throws {
        guard count > 0 else { return }
        try clCheck(clEnqueueCopyBuffer(context.queue, source.mem, mem, sourceOffset, offset, count, 0, nil, nil),
                    "copying \(formatBytes(UInt64(count))) within \(context.info.name)")
    }
}

/// Device memory held by one context's live `OpenCLBuffer`s, in bytes as asked for (the
/// driver may round up), flat from one training step to the next when nothing leaks; and the
/// host's writes into them.
public final class OpenCLMemoryAccount: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = 0, buffers = 0, peak = 0, writes = 0, written = 0

    public var liveBytes: Int { lock.withLock { bytes } }
    public var liveBuffers: Int { lock.withLock { buffers } }
    /// The largest `liveBytes` so far.
    public var peakBytes: Int { lock.withLock { peak } }
    /// Host-to-device writes so far, and their bytes.
    public var hostWrites: (count: Int, bytes: Int) { lock.withLock { (writes, written) } }

    func wrote(bytes count: Int) {
        lock.withLock {
            writes += 1
            written += count
        }
    }

    func add(bytes delta: Int, buffers count: Int) {
        lock.withLock {
            bytes += delta
            buffers += count
            peak = max(peak, bytes)
        }
    }
}

/// Two flaws in the shadow memory of Oclgrind's `--uninitialized` check (21.10, plugin
/// Uninitialized.cpp) make it report reads of values a kernel did write:
/// - every host-side store (`clEnqueueWriteBuffer`, `clEnqueueFillBuffer`, `clEnqueueCopyBuffer`)
///   goes through `hostMemoryStore`, which calls `ShadowMemory::allocate(address, size)`: that
///   REPLACES the buffer's whole shadow with a new one of the store's size, and the clean
///   shadow is then stored only if the store starts at offset 0. `clEnqueueFillBuffer` runs as
///   one store per pattern (4 bytes for a float), so a filled n-float buffer is left with a
///   4-byte shadow: later kernel stores past byte 4 are dropped from the shadow and every read
///   of elements 1..n-1 counts as uninitialised;
/// - shadows are never freed when a buffer is released, and Oclgrind hands the freed buffer
///   slot to the next allocation, which inherits the old shadow and its old size.
/// Tests/Scripts/oclgrind_shadow_repro.c shows both with a kernel that writes every element of
/// a buffer and one that reads them back. On Oclgrind only (a simulator: no cost anywhere
/// else), `fill` of a whole buffer is therefore one host write from offset 0, which gives a
/// shadow of the right size, and released buffers are kept until the process ends, so no slot
/// is reused. Buffers no host store touches keep the fully poisoned shadow Oclgrind gives them
/// at their first kernel launch, so a kernel that reads memory nobody wrote is still reported.
enum OclgrindShadowWorkaround {
    nonisolated(unsafe) private static var retired: [cl_mem] = []
    private static let lock = NSLock()

    static func retire(_ mem: cl_mem) {
        lock.withLock { retired.append(mem) }
    }
}

func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}
