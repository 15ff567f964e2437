import Foundation

/// The host CPU's instruction-set support, checked before any library code runs. It lives in
/// the CLI target, which is compiled for baseline x86-64, so the check cannot trip itself.
enum HostCPU {
    /// Why this CPU cannot run the build, or nil. The library is compiled for AVX2 + FMA
    /// (see Package.swift); on a CPU without them the first vector instruction would kill the
    /// process with SIGILL, so the CLI checks `/proc/cpuinfo` first and says what is missing.
    static func unsupportedReason() -> String? {
        #if arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let missing = ["avx2", "fma"].filter { !flags.contains($0) }
        if !missing.isEmpty {
            return "this CPU lacks \(missing.joined(separator: ", ")); rebuild with ARMMT_TARGET_CPU=x86-64 swift build -c release"
        }
        #endif
        return nil
    }
}
