import Foundation

/// Everything `armmt-gpu info` reports: OpenCL devices, the CPU backend, and `auto`'s pick.
public struct EngineInfo: Codable, Sendable {
    public var openCLAvailable: Bool
    public var openCLUnavailableReason: String?
    public var devices: [OpenCLDeviceInfo]
    public var cpu: BLASInfo
    public var cpuCores: Int
    /// The vectors of the CPU fast paths' own loops, and why (`CPUVectorUnit`).
    public var cpuVectors: String
    /// "cpu" or "opencl:N"
    public var autoSelects: String
    public var kernelCache: String

    public static func gather(inventory: OpenCLInventory = .shared) -> EngineInfo {
        let auto = (try? DeviceSelector.auto.openCLIndex(in: inventory)).flatMap { $0 }
        return EngineInfo(
            openCLAvailable: inventory.unavailableReason == nil,
            openCLUnavailableReason: inventory.unavailableReason,
            devices: inventory.devices,
            cpu: BLASInfo.current(),
            cpuCores: ProcessInfo.processInfo.activeProcessorCount,
            cpuVectors: CPUVectorUnit.choice,
            autoSelects: auto.map { "opencl:\($0)" } ?? "cpu",
            kernelCache: KernelCache.defaultDirectory().path)
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func text() -> String {
        var out: [String] = []
        if let reason = openCLUnavailableReason {
            out.append("OpenCL: \(reason)")
        } else {
            var lastPlatform = ""
            for d in devices {
                if d.platform != lastPlatform {
                    out.append("OpenCL platform: \(d.platform) (\(d.platformVersion))")
                    lastPlatform = d.platform
                }
                out.append("  opencl:\(d.index)  \(d.name)")
                out.append("    vendor \(d.vendor), driver \(d.driverVersion), \(d.openCLCVersion), type \(d.type)")
                out.append("    \(d.computeUnits) compute units at \(d.maxClockMHz) MHz, global memory \(formatBytes(d.globalMemoryBytes)) (max allocation \(formatBytes(d.maxAllocationBytes))), local memory \(formatBytes(d.localMemoryBytes))")
                out.append("    max work-group \(d.maxWorkGroupSize), fp16 \(d.supportsFP16 ? "yes" : "no"), fp64 \(d.supportsFP64 ? "yes" : "no")")
            }
        }
        out.append("CPU backend: OpenBLAS \(cpu.core) kernels (\(cpu.coreChoice)), \(cpu.threads) threads, \(cpuCores) cores (\(cpu.config))")
        out.append("CPU fast paths: \(cpuVectors)")
        out.append("auto selects: \(autoSelects)")
        out.append("kernel cache: \(kernelCache)")
        return out.joined(separator: "\n")
    }
}
