import COpenCL
import Foundation

/// A built OpenCL program; released in `deinit`.
public final class OpenCLProgram {
    let program: cl_program
    public let name: String
    /// True when the executable came from the on-disk cache rather than the compiler.
    public let loadedFromCache: Bool
    unowned let context: OpenCLContext

    init(program: cl_program, name: String, loadedFromCache: Bool, context: OpenCLContext) {
        self.program = program
        self.name = name
        self.loadedFromCache = loadedFromCache
        self.context = context
    }

    deinit { clReleaseProgram(program) }

    /// Builds `source` with `options` (always with `-cl-std=CL1.2`), through `cache` when given.
    ///
    /// A compile failure throws `KernelBuildError` with the device name and the full build log.
    public static func build(name: String, source: String, options: String, context: OpenCLContext,
                             cache: KernelCache?) throws -> OpenCLProgram {
        let fullOptions = "-cl-std=CL1.2 " + options
        let key = cache.map { $0.key(device: context.info, source: source, options: fullOptions) }
        if let cache, let key, let binary = cache.load(key: key),
           let program = try? fromBinary(binary, name: name, options: fullOptions, context: context) {
            return program
        }
        let program = try fromSource(source, name: name, options: fullOptions, context: context)
        if let cache, let key, let binary = try? program.binary() {
            cache.store(key: key, binary: binary)
        }
        return program
    }

    static func fromSource(_ source: String, name: String, options: String, context: OpenCLContext) throws -> OpenCLProgram {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { cstr in
            var ptr: UnsafePointer<CChar>? = cstr
            var length = strlen(cstr)
            return clCreateProgramWithSource(context.context, 1, &ptr, &length, &status)
        }
        guard let program, status == CL_SUCCESS else {
            throw OpenCLError(status: status, operation: "creating program '\(name)' on \(context.info.name)")
        }
        try compile(program, name: name, options: options, context: context)
        return OpenCLProgram(program: program, name: name, loadedFromCache: false, context: context)
    }

    static func fromBinary(_ binary: [UInt8], name: String, options: String, context: OpenCLContext) throws -> OpenCLProgram {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var device: cl_device_id? = context.device
        let program: cl_program? = binary.withUnsafeBufferPointer { buf in
            var length = buf.count
            var ptr: UnsafePointer<UInt8>? = buf.baseAddress
            return clCreateProgramWithBinary(context.context, 1, &device, &length, &ptr, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            throw OpenCLError(status: status != CL_SUCCESS ? status : binaryStatus, operation: "loading cached program '\(name)'")
        }
        try compile(program, name: name, options: options, context: context)
        return OpenCLProgram(program: program, name: name, loadedFromCache: true, context: context)
    }

    private static func compile(_ program: cl_program, name: String, options: String, context: OpenCLContext) throws {
        var device: cl_device_id? = context.device
        let status = clBuildProgram(program, 1, &device, options, nil, nil)
        if status != CL_SUCCESS {
            let log = buildLog(program, context.device)
            clReleaseProgram(program)
            if status == CL_BUILD_PROGRAM_FAILURE || !log.isEmpty {
                throw KernelBuildError(program: name, device: context.info.name, options: options, log: log)
            }
            throw OpenCLError(status: status, operation: "building program '\(name)' on \(context.info.name)")
        }
    }

    private static func buildLog(_ program: cl_program, _ device: cl_device_id) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS,
              size > 1 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS
        else { return "" }
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The device executable, for the cache.
    func binary() throws -> [UInt8] {
        var size = 0
        try clCheck(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
                    "reading the binary size of '\(name)'")
        guard size > 0 else { throw EngineError.runtime("program '\(name)' has no binary to cache") }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBufferPointer { buf in
            var ptr: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            try clCheck(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES),
                                         MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &ptr, nil),
                        "reading the binary of '\(name)'")
        }
        return bytes
    }

    public func kernel(_ kernelName: String) throws -> OpenCLKernel {
        var status: cl_int = 0
        guard let k = clCreateKernel(program, kernelName, &status), status == CL_SUCCESS else {
            throw OpenCLError(status: status, operation: "creating kernel '\(kernelName)' from program '\(name)'")
        }
        return OpenCLKernel(kernel: k, name: kernelName, context: context)
    }
}

/// One kernel with its arguments; released in `deinit`. Not thread-safe: arguments are
/// per-object state, and the engine launches from one thread.
public final class OpenCLKernel {
    let kernel: cl_kernel
    public let name: String
    unowned let context: OpenCLContext

    init(kernel: cl_kernel, name: String, context: OpenCLContext) {
        self.kernel = kernel
        self.name = name
        self.context = context
    }

    deinit { clReleaseKernel(kernel) }

    public enum Argument {
        case buffer(OpenCLBuffer)
        case int(Int32)
        case float(Float)
        /// `__local` scratch of this many bytes.
        case local(Int)
    }

    /// Sets every argument, then enqueues over `global` with work-group `local`
    /// (nil lets the driver choose). `global` is rounded up to a multiple of `local`.
    public func launch(_ arguments: [Argument], global: [Int], local: [Int]?) throws {
        for (i, arg) in arguments.enumerated() {
            let index = cl_uint(i)
            let status: cl_int
            switch arg {
            case .buffer(let b):
                var mem: cl_mem? = b.mem
                status = clSetKernelArg(kernel, index, MemoryLayout<cl_mem?>.size, &mem)
            case .int(var v):
                status = clSetKernelArg(kernel, index, MemoryLayout<Int32>.size, &v)
            case .float(var v):
                status = clSetKernelArg(kernel, index, MemoryLayout<Float>.size, &v)
            case .local(let bytes):
                status = clSetKernelArg(kernel, index, bytes, nil)
            }
            try clCheck(status, "setting argument \(i) of kernel \(name)")
        }
        var globalSize = global
        if let local {
            for d in globalSize.indices { globalSize[d] = (globalSize[d] + local[d] - 1) / local[d] * local[d] }
        }
        if globalSize.contains(0) { return }
        context.kernelLaunches += 1
        let status: cl_int
        if var localSize = local {
            status = clEnqueueNDRangeKernel(context.queue, kernel, cl_uint(globalSize.count), nil, &globalSize, &localSize, 0, nil, nil)
        } else {
            status = clEnqueueNDRangeKernel(context.queue, kernel, cl_uint(globalSize.count), nil, &globalSize, nil, 0, nil, nil)
        }
        var what = "launching kernel \(name) with global \(globalSize) local \(local.map { "\($0)" } ?? "auto") on \(context.info.name)"
        if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES {
            // Drivers allocate lazily: running out shows here, not at clCreateBuffer.
            let m = context.memory
            what += " (buffers of this run hold \(formatBytes(UInt64(m.liveBytes))) in \(m.liveBuffers) buffers of its \(formatBytes(context.info.globalMemoryBytes)) global memory)"
        }
        try clCheck(status, what)
    }
}
