/// Fused vs unfused attention forward at one benchmark shape (issue 3's criterion: the fused
/// op must beat GEMM + softmax + GEMM at the default shapes).
public struct AttentionFusionSpeedup: Codable, Sendable {
    /// The shared shape of the two rows, e.g. `fwd B=256 Lq=32 Lk=50 H=4 dh=16 behaviour default`.
    public var shape: String
    public var fusedMicroseconds: Double
    public var unfusedMicroseconds: Double
    /// `unfused time / fused time`: above 1, the fused op is that many times faster.
    public var speedup: Double

    /// `fused vs unfused attention fwd, behaviour default: 1.8x faster` (or `0.7x, slower`).
    public var line: String {
        // The shape's tag follows the sizes ("B=… dh=N tag"); the sizes are in the table rows.
        let words = shape.split(separator: " ")
        let tagStart = words.lastIndex { $0.hasPrefix("dh=") }.map { $0 + 1 } ?? words.endIndex
        let tag = words[tagStart...].joined(separator: " ")
        let label = (words.first.map(String.init) ?? "") + (tag.isEmpty ? "" : ", " + tag)
        let verdict = speedup >= 1 ? "faster" : "slower"
        return "fused vs unfused attention \(label): " + String(format: "%.2fx", speedup) + " " + verdict
    }

    /// One entry per shape that has both an `attention` and an `attention-unfused` row, in the
    /// order of the fused rows.
    public static func pairs(_ results: [KernelBenchResult]) -> [AttentionFusionSpeedup] {
        var unfused: [String: Double] = [:]
        for r in results where r.op == "attention-unfused" { unfused[r.shape] = r.medianMicroseconds }
        return results.compactMap { r in
            guard r.op == "attention", let u = unfused[r.shape], r.medianMicroseconds > 0 else { return nil }
            return AttentionFusionSpeedup(shape: r.shape, fusedMicroseconds: r.medianMicroseconds,
                                          unfusedMicroseconds: u, speedup: u / r.medianMicroseconds)
        }
    }
}
