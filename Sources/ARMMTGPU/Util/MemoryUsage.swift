import Foundation

/// Memory a training process holds, sampled once per epoch into metrics.jsonl (`"type":
/// "memory"`) so that a leak shows as growth from one epoch to the next.
public struct MemoryUsage: Sendable, Equatable {
    /// Resident set size (`VmRSS` of /proc/self/status), nil where there is no /proc.
    public var residentBytes: Int?
    /// Bytes of live OpenCL buffers on the backend's device (`OpenCLMemoryAccount`); nil on the CPU backend.
    public var deviceBufferBytes: Int?
    public var deviceBuffers: Int?

    public static func sample(_ backend: Backend) -> MemoryUsage {
        let account = (backend as? OpenCLBackend)?.context.memory
        return MemoryUsage(residentBytes: residentBytes(), deviceBufferBytes: account?.liveBytes, deviceBuffers: account?.liveBuffers)
    }

    /// `VmRSS` in bytes, read from /proc/self/status ("VmRSS:   123456 kB").
    public static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let kb = Int(fields[1]) else { return nil }
        return kb * 1024
    }

    var jsonFields: [String: Any] {
        var out: [String: Any] = [:]
        if let r = residentBytes { out["rss_bytes"] = r }
        if let d = deviceBufferBytes { out["device_buffer_bytes"] = d }
        if let n = deviceBuffers { out["device_buffers"] = n }
        return out
    }
}
