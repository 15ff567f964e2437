import COpenCL

/// Pinned host memory that host-to-device writes are copied into, so that each write is enqueued
/// without waiting.
///
/// Why: a blocking write returns only when it is done, and on an in-order queue that is after
/// every command enqueued before it. A training step writes its inputs one tensor at a time
/// (35 writes at the default shape), so each batch's assembly on the host waited for the device
/// to drain the previous step's work, 35 times over. Copied here, a write is one `memcpy` and an
/// enqueue; memory from `CL_MEM_ALLOC_HOST_PTR`, mapped once, is what NVIDIA's OpenCL guide names
/// for fast transfers (page-locked, so the copy engine reads it directly).
///
/// Regions are handed out in order and all become free together once the queue is known to be
/// empty: after `clFinish`, or after a blocking read (on an in-order queue it completes after
/// everything before it). A write that does not fit in what is left waits for the queue and starts
/// again at the front; the staging grows to the largest write seen, up to `maximumBytes`. Larger
/// writes stay blocking, from the caller's memory.
final class OpenCLUploadStaging {
    let initialBytes: Int
    let maximumBytes: Int
    /// Regions start on this boundary (a cache line; DMA engines like aligned sources).
    static let alignment = 64

    private let context: cl_context
    private let queue: cl_command_queue
    private var mem: cl_mem?
    private var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    /// Bytes handed out since the queue was last known to be empty.
    private(set) var used = 0

    init(context: cl_context, queue: cl_command_queue, initialBytes: Int = 4 << 20, maximumBytes: Int = 256 << 20) {
        self.context = context
        self.queue = queue
        self.initialBytes = initialBytes
        self.maximumBytes = maximumBytes
    }

    deinit { release() }

    /// Copies `source` into the staging and returns where it now lives, valid until the queue has
    /// been drained; nil when it is larger than `maximumBytes` (write it blocking instead).
    /// `drain` empties the queue.
    func stage(_ source: UnsafeRawBufferPointer, drain: () throws -> Void) throws -> UnsafeRawPointer? {
        let need = (source.count + Self.alignment - 1) / Self.alignment * Self.alignment
        guard need <= maximumBytes else { return nil }
        if used + need > capacity {
            if used > 0 {
                try drain()
                used = 0
            }
            if need > capacity { try allocate(min(max(need, 2 * capacity, initialBytes), maximumBytes)) }
        }
        let region = base! + used
        region.copyMemory(from: source.baseAddress!, byteCount: source.count)
        used += need
        return UnsafeRawPointer(region)
    }

    /// Every command enqueued so far has completed: the whole staging is free.
    func queueDrained() { used = 0 }

    private func allocate(_ bytes: Int) throws {
        release()
        var status: cl_int = 0
        let flags = cl_mem_flags(CL_MEM_ALLOC_HOST_PTR) | cl_mem_flags(CL_MEM_READ_ONLY)
        guard let m = clCreateBuffer(context, flags, bytes, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(status: status, operation: "allocating \(formatBytes(UInt64(bytes))) of pinned host memory for uploads")
        }
        let p = clEnqueueMapBuffer(queue, m, cl_bool(CL_TRUE), cl_map_flags(CL_MAP_WRITE), 0, bytes, 0, nil, nil, &status)
        guard let p, status == CL_SUCCESS else {
            clReleaseMemObject(m)
            throw OpenCLError(status: status, operation: "mapping \(formatBytes(UInt64(bytes))) of pinned host memory for uploads")
        }
        mem = m
        base = p
        capacity = bytes
        used = 0
    }

    private func release() {
        guard let m = mem else { return }
        clEnqueueUnmapMemObject(queue, m, base, 0, nil, nil)
        clFinish(queue)
        clReleaseMemObject(m)
        mem = nil
        base = nil
        capacity = 0
        used = 0
    }
}
