/// Strided 2-D copies: how the model concatenates, splits and broadcasts activations without
/// a kernel per layout. A concatenation `[x ⊕ y]` is two window copies into column ranges of
/// one tensor; the per-request context broadcast to its K candidates is a copy with
/// `repeat = K`; the backward of that broadcast is a group sum.
public protocol CopyOps {
    /// For `r` in `0..<rows`, `c` in `0..<cols`:
    /// `dst[dstOffset + r·dstStride + c] (+)= scale · src[srcOffset + (r / repeat)·srcStride + c]`
    /// (`+=` when `accumulate`). Source and destination are float32 tensors addressed flat.
    func copyWindow(_ p: WindowCopy, from src: Tensor, to dst: Tensor) throws

    /// For `g` in `0..<groups`, `c` in `0..<cols`:
    /// `dst[dstOffset + g·dstStride + c] (+)= Σ_{j < groupSize} src[srcOffset + (g·groupSize + j)·srcStride + c]`,
    /// summed in increasing `j` (deterministic). The adjoint of `copyWindow` with `repeat = groupSize`.
    func sumGroups(_ p: GroupSum, from src: Tensor, to dst: Tensor) throws
}

/// Parameters of `CopyOps.copyWindow`.
public struct WindowCopy: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var srcOffset = 0
    public var srcStride: Int
    public var dstOffset = 0
    public var dstStride: Int
    /// Each source row feeds this many consecutive destination rows (1: plain copy).
    public var repeatRows = 1
    public var accumulate = false
    public var scale: Float = 1

    /// A packed `[rows, cols]` source into column window `dstColumn..<dstColumn+cols` of a
    /// `[rows, dstWidth]` destination.
    public init(rows: Int, cols: Int, srcStride: Int? = nil, dstStride: Int? = nil,
                srcOffset: Int = 0, dstOffset: Int = 0, repeatRows: Int = 1, accumulate: Bool = false, scale: Float = 1) {
        self.rows = rows
        self.cols = cols
        self.srcStride = srcStride ?? cols
        self.dstStride = dstStride ?? cols
        self.srcOffset = srcOffset
        self.dstOffset = dstOffset
        self.repeatRows = repeatRows
        self.accumulate = accumulate
        self.scale = scale
    }

    public func validate(srcCount: Int, dstCount: Int) throws {
        func fail(_ what: String) -> EngineError { .usage("copyWindow rows=\(rows) cols=\(cols): \(what)") }
        guard rows >= 0, cols >= 0, repeatRows >= 1, srcOffset >= 0, dstOffset >= 0 else {
            throw fail("sizes and offsets must be non-negative, repeat ≥ 1")
        }
        guard rows > 0, cols > 0 else { return }
        guard srcStride >= cols, dstStride >= cols else { throw fail("strides \(srcStride)/\(dstStride) shorter than \(cols) columns") }
        let srcRows = (rows + repeatRows - 1) / repeatRows
        let needSrc = srcOffset + (srcRows - 1) * srcStride + cols
        let needDst = dstOffset + (rows - 1) * dstStride + cols
        guard needSrc <= srcCount else { throw fail("source needs \(needSrc) elements, tensor has \(srcCount)") }
        guard needDst <= dstCount else { throw fail("destination needs \(needDst) elements, tensor has \(dstCount)") }
    }
}

/// Parameters of `CopyOps.sumGroups`.
public struct GroupSum: Equatable, Sendable {
    public var groups: Int
    public var groupSize: Int
    public var cols: Int
    public var srcOffset = 0
    public var srcStride: Int
    public var dstOffset = 0
    public var dstStride: Int
    public var accumulate = false

    public init(groups: Int, groupSize: Int, cols: Int, srcStride: Int? = nil, dstStride: Int? = nil,
                srcOffset: Int = 0, dstOffset: Int = 0, accumulate: Bool = false) {
        self.groups = groups
        self.groupSize = groupSize
        self.cols = cols
        self.srcStride = srcStride ?? cols
        self.dstStride = dstStride ?? cols
        self.srcOffset = srcOffset
        self.dstOffset = dstOffset
        self.accumulate = accumulate
    }

    public func validate(srcCount: Int, dstCount: Int) throws {
        func fail(_ what: String) -> EngineError { .usage("sumGroups groups=\(groups) size=\(groupSize) cols=\(cols): \(what)") }
        guard groups >= 0, groupSize >= 1, cols >= 0, srcOffset >= 0, dstOffset >= 0 else {
            throw fail("sizes and offsets must be non-negative, group size ≥ 1")
        }
        guard groups > 0, cols > 0 else { return }
        guard srcStride >= cols, dstStride >= cols else { throw fail("strides \(srcStride)/\(dstStride) shorter than \(cols) columns") }
        let needSrc = srcOffset + (groups * groupSize - 1) * srcStride + cols
        let needDst = dstOffset + (groups - 1) * dstStride + cols
        guard needSrc <= srcCount else { throw fail("source needs \(needSrc) elements, tensor has \(srcCount)") }
        guard needDst <= dstCount else { throw fail("destination needs \(needDst) elements, tensor has \(dstCount)") }
    }
}
