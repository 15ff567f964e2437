import COpenCL
import Foundation

/// What `armmt-gpu info` reports of one OpenCL device, and what device selection reads.
public struct OpenCLDeviceInfo: Codable, Sendable {
    /// Position in the flat list over all platforms: the N of `--device opencl:N`.
    public var index: Int
    public var platform: String
    public var platformVersion: String
    public var name: String
    public var vendor: String
    public var driverVersion: String
    public var openCLCVersion: String
    public var type: String
    public var computeUnits: Int
    public var maxClockMHz: Int
    public var globalMemoryBytes: UInt64
    public var maxAllocationBytes: UInt64
    public var localMemoryBytes: UInt64
    public var maxWorkGroupSize: Int
    public var supportsFP16: Bool
    public var supportsFP64: Bool
    public var extensions: [String]

    public var isGPU: Bool { type == "GPU" }
}

/// The OpenCL platforms and devices on this machine, or why there are none.
public struct OpenCLInventory: @unchecked Sendable {
    public var devices: [OpenCLDeviceInfo]
    /// Handles in the same order as `devices`; valid for the life of the process and never
    /// mutated, which is why the inventory can be shared across threads.
    let deviceIDs: [cl_device_id]
    /// Set when OpenCL is unusable: no ICD installed, or the loader failed.
    public var unavailableReason: String?

    /// Enumerates once per process: the ICD loader's platform list does not change while we run.
    public static let shared: OpenCLInventory = discover()

    static func discover() -> OpenCLInventory {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR, from the ICD loader */ || (status == CL_SUCCESS && count == 0) {
            return OpenCLInventory(
                devices: [], deviceIDs: [],
                unavailableReason: "no OpenCL platform found (no ICD installed: install pocl-opencl-icd or a GPU driver, or set OCL_ICD_VENDORS)")
        }
        if status != CL_SUCCESS {
            return OpenCLInventory(devices: [], deviceIDs: [],
                unavailableReason: "OpenCL unavailable: \(OpenCLError(status: status, operation: "listing platforms"))")
        }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        guard clGetPlatformIDs(count, &platforms, nil) == CL_SUCCESS else {
            return OpenCLInventory(devices: [], deviceIDs: [], unavailableReason: "OpenCL unavailable: platform list could not be read")
        }
        var infos: [OpenCLDeviceInfo] = []
        var ids: [cl_device_id] = []
        for case let platform? in platforms {
            let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            let platformVersion = platformString(platform, cl_platform_info(CL_PLATFORM_VERSION))
            var deviceCount: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount) == CL_SUCCESS,
                  deviceCount > 0 else { continue }
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil) == CL_SUCCESS
            else { continue }
            for case let device? in devices {
                infos.append(describe(device, index: infos.count, platform: platformName, platformVersion: platformVersion))
                ids.append(device)
            }
        }
        if infos.isEmpty {
            return OpenCLInventory(devices: [], deviceIDs: [], unavailableReason: "OpenCL platforms found, but no devices")
        }
        return OpenCLInventory(devices: infos, deviceIDs: ids, unavailableReason: nil)
    }

    static func describe(_ d: cl_device_id, index: Int, platform: String, platformVersion: String) -> OpenCLDeviceInfo {
        let ext = deviceString(d, cl_device_info(CL_DEVICE_EXTENSIONS)).split(separator: " ").map(String.init)
        let typeBits: cl_device_type = deviceScalar(d, cl_device_info(CL_DEVICE_TYPE), 0)
        let type: String
        if typeBits & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { type = "GPU" }
        else if typeBits & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { type = "CPU" }
        else if typeBits & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { type = "accelerator" }
        else { type = "other" }
        let fp64Config: cl_device_fp_config = deviceScalar(d, cl_device_info(CL_DEVICE_DOUBLE_FP_CONFIG), 0)
        return OpenCLDeviceInfo(
            index: index,
            platform: platform,
            platformVersion: platformVersion,
            name: deviceString(d, cl_device_info(CL_DEVICE_NAME)),
            vendor: deviceString(d, cl_device_info(CL_DEVICE_VENDOR)),
            driverVersion: deviceString(d, cl_device_info(CL_DRIVER_VERSION)),
            openCLCVersion: deviceString(d, cl_device_info(CL_DEVICE_OPENCL_C_VERSION)),
            type: type,
            computeUnits: Int(deviceScalar(d, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS), cl_uint(0))),
            maxClockMHz: Int(deviceScalar(d, cl_device_info(CL_DEVICE_MAX_CLOCK_FREQUENCY), cl_uint(0))),
            globalMemoryBytes: UInt64(deviceScalar(d, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE), cl_ulong(0))),
            maxAllocationBytes: UInt64(deviceScalar(d, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE), cl_ulong(0))),
            localMemoryBytes: UInt64(deviceScalar(d, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE), cl_ulong(0))),
            maxWorkGroupSize: Int(deviceScalar(d, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE), Int(0))),
            supportsFP16: ext.contains("cl_khr_fp16"),
            supportsFP64: fp64Config != 0 || ext.contains("cl_khr_fp64"),
            extensions: ext)
    }
}

func platformString(_ p: cl_platform_id, _ param: cl_platform_info) -> String {
    var size = 0
    guard clGetPlatformInfo(p, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
    var bytes = [CChar](repeating: 0, count: size)
    guard clGetPlatformInfo(p, param, size, &bytes, nil) == CL_SUCCESS else { return "" }
    return trimmedCString(bytes)
}

func deviceString(_ d: cl_device_id, _ param: cl_device_info) -> String {
    var size = 0
    guard clGetDeviceInfo(d, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
    var bytes = [CChar](repeating: 0, count: size)
    guard clGetDeviceInfo(d, param, size, &bytes, nil) == CL_SUCCESS else { return "" }
    return trimmedCString(bytes)
}

func deviceScalar<T>(_ d: cl_device_id, _ param: cl_device_info, _ fallback: T) -> T {
    var value = fallback
    let status = withUnsafeMutableBytes(of: &value) { raw in
        clGetDeviceInfo(d, param, raw.count, raw.baseAddress, nil)
    }
    return status == CL_SUCCESS ? value : fallback
}

private func trimmedCString(_ bytes: [CChar]) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    let text = String(decoding: bytes[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.trimmingCharacters(in: .whitespaces)
}
