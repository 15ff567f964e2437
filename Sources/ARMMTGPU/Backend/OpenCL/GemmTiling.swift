import Foundation

/// The OpenCL GEMM's tiling (`Sources/Kernels/gemm.cl`): a work-group computes a
/// `tileM × tileN` tile of C, `tileK` reduction steps per pass through local memory; each
/// work-item computes `workM × workN` outputs; each row of the two local tiles is padded by
/// `pad` floats; with `doubleBuffer` each work-item loads the next step's share of the tiles
/// into registers while it computes this one; `vectorWidth` floats make one local read in the
/// products (a work-item's outputs come in runs of that many rows and columns). Any tiling that
/// passes `validate` computes the same products (the equivalence tests run several); which one
/// is fastest depends on the device, so `ARMMT_OPENCL_GEMM` sets it at run time, on a GPU box
/// without a toolchain.
public struct GemmTiling: Equatable, Sendable, CustomStringConvertible {
    public var tileM: Int
    public var tileN: Int
    public var tileK: Int
    public var workM: Int
    public var workN: Int
    public var pad: Int
    public var doubleBuffer: Bool
    public var vectorWidth: Int

    public init(tileM: Int, tileN: Int, tileK: Int, workM: Int, workN: Int, pad: Int = 0, doubleBuffer: Bool = false,
                vectorWidth: Int = 1) {
        (self.tileM, self.tileN, self.tileK, self.workM, self.workN) = (tileM, tileN, tileK, workM, workN)
        (self.pad, self.doubleBuffer, self.vectorWidth) = (pad, doubleBuffer, vectorWidth)
    }

    public static let environmentVariable = "ARMMT_OPENCL_GEMM"
    static let syntax = "TMxTNxTK/WMxWN[/PAD[/DB[/VW]]], e.g. 128x128x16/8x8/4/1/4"

    /// The form `parse` reads: "TMxTNxTK/WMxWN/PAD/DB/VW".
    public var description: String {
        "\(tileM)x\(tileN)x\(tileK)/\(workM)x\(workN)/\(pad)/\(doubleBuffer ? 1 : 0)/\(vectorWidth)"
    }

    /// Work-items per work-group, as [dimension 0 (columns of C), dimension 1 (rows)].
    var localSize: [Int] { [tileN / workN, tileM / workM, 1] }

    /// Bytes of local memory the two tiles take.
    var localMemoryBytes: Int { 4 * tileK * (tileM + tileN + 2 * pad) }

    /// Reads "TMxTNxTK/WMxWN", "…/PAD", "…/PAD/DB" or "…/PAD/DB/VW" (pad 0, DB 0 and VW 1 when
    /// left out; DB is 0 or 1, VW 1, 2 or 4).
    public static func parse(_ text: String) throws -> GemmTiling {
        func fail(_ why: String) -> EngineError {
            EngineError.usage("\(environmentVariable)=\"\(text)\": \(why); expected \(syntax)")
        }
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard (2...5).contains(parts.count) else { throw fail("not two to five parts separated by /") }
        func numbers(_ part: Substring, _ count: Int, _ what: String) throws -> [Int] {
            let fields = part.split(separator: "x", omittingEmptySubsequences: false)
            let values = fields.compactMap { Int($0) }
            guard fields.count == count, values.count == count else { throw fail("\(what) is not \(count) integers separated by x") }
            return values
        }
        let tile = try numbers(parts[0], 3, "the tile"), work = try numbers(parts[1], 2, "the work per item")
        let pad = parts.count >= 3 ? try numbers(parts[2], 1, "the padding")[0] : 0
        let db = parts.count >= 4 ? try numbers(parts[3], 1, "the double buffering")[0] : 0
        guard db == 0 || db == 1 else { throw fail("DB = \(db) is neither 0 nor 1") }
        let vw = parts.count == 5 ? try numbers(parts[4], 1, "the vector width")[0] : 1
        let t = GemmTiling(tileM: tile[0], tileN: tile[1], tileK: tile[2], workM: work[0], workN: work[1], pad: pad,
                           doubleBuffer: db == 1, vectorWidth: vw)
        if let problem = t.problem(maxWorkGroupSize: nil, localMemoryBytes: nil) { throw fail(problem) }
        return t
    }

    /// Throws a usage error naming `source` (and ending in `hint`) unless the device can run
    /// this tiling.
    public func validate(for info: OpenCLDeviceInfo, source: String, hint: String = "") throws {
        if let problem = problem(maxWorkGroupSize: info.maxWorkGroupSize, localMemoryBytes: Int(info.localMemoryBytes)) {
            throw EngineError.usage("\(source) GEMM tiling \(self) does not fit \(info.name): \(problem)\(hint)")
        }
    }

    /// What is wrong with this tiling, or nil. Device limits are checked when given.
    func problem(maxWorkGroupSize: Int?, localMemoryBytes limit: Int?) -> String? {
        let sizes = [("TM", tileM), ("TN", tileN), ("TK", tileK), ("WM", workM), ("WN", workN)]
        if let (label, v) = sizes.first(where: { !(1...1024).contains($0.1) }) { return "\(label) = \(v) is outside 1…1024" }
        if !(0...64).contains(pad) { return "PAD = \(pad) is outside 0…64" }
        if tileM % workM != 0 { return "WM = \(workM) does not divide TM = \(tileM)" }
        if tileN % workN != 0 { return "WN = \(workN) does not divide TN = \(tileN)" }
        // A vector read needs its run of outputs whole and every local row aligned to it.
        if ![1, 2, 4].contains(vectorWidth) { return "VW = \(vectorWidth) is not 1, 2 or 4" }
        if let (label, v) = [("WM", workM), ("WN", workN), ("PAD", pad)].first(where: { $0.1 % vectorWidth != 0 }) {
            return "VW = \(vectorWidth) does not divide \(label) = \(v)"
        }
        // Each work-item keeps WM·WN accumulators in registers; beyond this they spill.
        if workM * workN > 256 { return "WM·WN = \(workM * workN) accumulators per work-item (at most 256)" }
        let items = (tileM / workM) * (tileN / workN)
        if let limit = maxWorkGroupSize, items > limit {
            return "\(items) work-items per group, the device allows \(limit)"
        }
        if let limit, localMemoryBytes > limit {
            return "\(localMemoryBytes) bytes of local memory, the device has \(limit)"
        }
        return nil
    }
}
