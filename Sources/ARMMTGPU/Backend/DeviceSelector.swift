import Foundation

/// Which backend to run on, as written after `--device` or in `ARMMT_DEVICE`.
///
/// - `auto`: the first OpenCL GPU; otherwise the CPU backend (an OpenCL CPU device such as
///   PoCL is a correctness device, slower than OpenBLAS, so `auto` never picks it).
/// - `cpu`: the CPU backend. `opencl`: the first OpenCL device of any type. `opencl:N`: the
///   N-th device in `armmt-gpu info`'s list.
public enum DeviceSelector: Equatable, Sendable, CustomStringConvertible {
    case auto
    case cpu
    case opencl(Int?)

    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "opencl": self = .opencl(nil)
        default:
            if t.hasPrefix("opencl:"), let n = Int(t.dropFirst("opencl:".count)), n >= 0 {
                self = .opencl(n)
            } else {
                throw EngineError.usage("--device '\(text)' is not one of auto, cpu, opencl, opencl:N")
            }
        }
    }

    /// `--device` if given, else `$ARMMT_DEVICE`, else `auto`.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DeviceSelector {
        if let flag { return try DeviceSelector(parsing: flag) }
        if let env = environment["ARMMT_DEVICE"], !env.isEmpty {
            do { return try DeviceSelector(parsing: env) } catch {
                throw EngineError.usage("ARMMT_DEVICE='\(env)' is not one of auto, cpu, opencl, opencl:N")
            }
        }
        return .auto
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case .opencl(nil): return "opencl"
        case .opencl(let n?): return "opencl:\(n)"
        }
    }

    /// The OpenCL device index this selects, or nil for the CPU backend.
    public func openCLIndex(in inventory: OpenCLInventory = .shared) throws -> Int? {
        switch self {
        case .cpu:
            return nil
        case .auto:
            return inventory.devices.first(where: { $0.isGPU })?.index
        case .opencl(let n):
            if let reason = inventory.unavailableReason {
                throw EngineError.usage("--device \(self): \(reason)")
            }
            let index = n ?? 0
            guard inventory.devices.indices.contains(index) else {
                throw EngineError.usage(Self.missingDeviceMessage(index, inventory))
            }
            return index
        }
    }

    static func missingDeviceMessage(_ index: Int, _ inventory: OpenCLInventory) -> String {
        let list = inventory.devices.map { "opencl:\($0.index) = \($0.name)" }.joined(separator: ", ")
        let n = inventory.devices.count
        return "--device opencl:\(index): no such OpenCL device; this machine has \(n) (\(list.isEmpty ? "none" : list)); see `armmt-gpu info`"
    }

    /// Opens the selected backend.
    public func makeBackend(cache: KernelCache? = KernelCache(directory: KernelCache.defaultDirectory()),
                            inventory: OpenCLInventory = .shared) throws -> Backend {
        if let index = try openCLIndex(in: inventory) {
            return try OpenCLBackend(deviceIndex: index, cache: cache)
        }
        return CPUBackend()
    }
}
