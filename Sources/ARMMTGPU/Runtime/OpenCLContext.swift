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

    public init(deviceIndex: Int, inventory: OpenCLInventory = .shared) throws {
        guard inventory.devices.indices.contains(deviceIndex) else {
            throw EngineError.usage(DeviceSelector.missingDeviceMessage(deviceIndex, inventory))
        }
        info = inventory.devices[deviceIndex]
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
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Blocks until every enqueued command has completed.
    public func finish() throws {
        try clCheck(clFinish(queue), "waiting for the queue on \(info.name)")
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

    init(context: OpenCLContext, byteCount: Int) throws {
        let info = context.info
        if UInt64(byteCount) > info.maxAllocationBytes && info.maxAllocationBytes > 0 {
            throw EngineError.runtime(
                "cannot allocate \(formatBytes(UInt64(byteCount))) on \(info.name): its largest single allocation is \(formatBytes(info.maxAllocationBytes)) (global memory \(formatBytes(info.globalMemoryBytes)))")
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
    }

    deinit { clReleaseMemObject(mem) }

    /// Copies host bytes in. Blocking, so the host memory only has to live for the call.
    public func write(from source: UnsafeRawBufferPointer, offset: Int = 0) throws {
        guard source.count > 0 else { return }
        precondition(offset + source.count <= byteCount, "write past the end of a device buffer")
        try clCheck(clEnqueueWriteBuffer(context.queue, mem, cl_bool(CL_TRUE), offset, source.count,
                                         source.baseAddress, 0, nil, nil),
                    "copying \(formatBytes(UInt64(source.count))) to \(context.info.name)")
    }

    /// Copies device bytes out. Blocking: it also waits for every kernel enqueued before it.
    public func read(into destination: UnsafeMutableRawBufferPointer, offset: Int = 0) throws {
        guard destination.count > 0 else { return }
        precondition(offset + destination.count <= byteCount, "read past the end of a device buffer")
        try clCheck(clEnqueueReadBuffer(context.queue, mem, cl_bool(CL_TRUE), offset, destination.count,
                                        destination.baseAddress, 0, nil, nil),
                    "copying \(formatBytes(UInt64(destination.count))) from \(context.info.name)")
    }

    /// Sets `byteCount` bytes from the start to repeated `value` (enqueued; the pattern is
    /// copied by the driver at enqueue time, so the local needs no longer life).
    public func fill(_ value: Float, byteCount count: Int) throws {
        guard count > 0 else { return }
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

func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}
