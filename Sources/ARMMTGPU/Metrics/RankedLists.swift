/// Scores and labels of one target over many lists, valid candidates only, in slot order
/// (compressed rows: list `i` is `offsets[i] ..< offsets[i + 1]`).
///
/// Slot order matters: ranking metrics break score ties by it (the earlier slot ranks first,
/// i.e. the prior ranker's order is kept, as LightGBM's stable sort does).
public struct RankedLists: Sendable, Equatable {
    public private(set) var scores: [Double] = []
    public private(set) var labels: [Double] = []
    public private(set) var offsets: [Int] = [0]

    public init() {}

    public var listCount: Int { offsets.count - 1 }
    public var candidateCount: Int { scores.count }

    /// Appends one list (its valid candidates, in slot order).
    public mutating func append<S: Sequence, L: Sequence>(scores s: S, labels l: L)
        where S.Element: BinaryFloatingPoint, L.Element: BinaryFloatingPoint {
        scores.append(contentsOf: s.map { Double($0) })
        labels.append(contentsOf: l.map { Double($0) })
        precondition(scores.count == labels.count, "a list needs one label per score")
        offsets.append(scores.count)
    }

    /// Appends a batch laid out as the engine's tensors: `scores` and `labels` `[B, K_max, T]`
    /// (target `target` of `T`), `mask` `[B, K_max]` (1 = valid). Lists without valid
    /// candidates are appended empty (they count for nothing).
    public mutating func append(scores s: UnsafeBufferPointer<Float>, labels l: UnsafeBufferPointer<Float>,
                                mask: UnsafeBufferPointer<Float>, batchSize: Int, kMax: Int,
                                targets: Int = 1, target: Int = 0) {
        precondition(s.count >= batchSize * kMax * targets && l.count >= batchSize * kMax * targets && mask.count >= batchSize * kMax)
        for b in 0..<batchSize {
            for j in 0..<kMax where mask[b * kMax + j] != 0 {
                let e = (b * kMax + j) * targets + target
                scores.append(Double(s[e]))
                labels.append(Double(l[e]))
            }
            offsets.append(scores.count)
        }
    }

    public mutating func append(scores s: [Float], labels l: [Float], mask: [Float], batchSize: Int, kMax: Int,
                                targets: Int = 1, target: Int = 0) {
        s.withUnsafeBufferPointer { sp in
            l.withUnsafeBufferPointer { lp in
                mask.withUnsafeBufferPointer { mp in
                    append(scores: sp, labels: lp, mask: mp, batchSize: batchSize, kMax: kMax, targets: targets, target: target)
                }
            }
        }
    }
}
