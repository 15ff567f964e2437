import Foundation

/// Per-device tunables, emitted as the `#define` preamble every program is built with
/// (CLBlast's scheme: kernels hold `#ifndef X / #define X default`, the host overrides).
public struct DeviceTuning: Sendable {
    /// GEMM tiles; `ARMMT_OPENCL_GEMM` overrides them (`GemmTiling.parse`).
    public var gemm = GemmTiling(tileM: 64, tileN: 64, tileK: 16, workM: 4, workN: 4, pad: 1)
    /// Compute units a single GEMM's split over k aims to fill (`GemmSplitPlan`); 0 never splits.
    /// `forDevice` sets the device's count; `ARMMT_OPENCL_GEMM_SPLIT` overrides it.
    public var gemmSplitUnits = 0
    /// Work-group of the embedding gather/backward (flattened over row × feature).
    public var embeddingWorkGroup = 64
    /// Work-group of the loss kernels (one group per target; a power of two for the tree sum).
    public var lossWorkGroup = 256
    /// Work-group of the optimizer kernels (a power of two for the tree sum).
    public var optimizerWorkGroup = 256
    /// Most work-groups one tensor's partial sum of squares is spread over (host side only).
    public var gradientNormGroups = 128
    /// Fused attention: work-items per work-group, and query (or key) rows per work-group.
    public var attentionWorkGroup = 64
    public var attentionQueryBlock = 16
    public var layerNormGroupSize = 128        // LN_WG: work-items per LayerNorm row group
    public var columnReduceCols = 32           // COLRED_COLS: columns per partial-sum work-group
    public var columnReduceRows = 8            // COLRED_ROWS: rows reduced in parallel per column
    public var columnReduceMaxBlocks = 512     // host: most row blocks (partials) a column sum uses
    public var elementwiseGroupSize = 256      // EW_WG
    public var cafuGroupSize = 256             // CAFU_WG
    public var cafuMaxTile = 32                // host: most items per CAFU forward work-group
    public var cafuChunk = 32                  // CAFU_KC: input columns of W1 staged per step
    public var cafuMaxAccumulators = 8         // CAFU_ACC: hidden outputs per work-item (bounds tile·hidden)
    public var softmaxGroupSize = 128          // SMAX_WG: masked row softmax work-group (a power of two)
    /// Bytes of item-table vectors (text and image, as float32) the model may keep in device
    /// memory, so a batch gathers its items there instead of on the host (`DeviceItemVectors`).
    /// `forDevice` sets a quarter of a GPU's global memory and 0 on a CPU device;
    /// `ARMMT_OPENCL_ITEM_VECTORS_MIB` overrides it (0 always gathers on the host).
    public var itemVectorBudgetBytes = 0
    /// Whether host-to-device writes go through pinned staging without waiting for the queue
    /// (`OpenCLUploadStaging`). `forDevice` turns it on for a GPU; `ARMMT_OPENCL_STAGED_WRITES`
    /// (0 or 1) overrides it.
    public var stagedWrites = false

    /// The defaults for a device. On a GPU the local tiles are padded by one float per row
    /// (an untransposed operand's loader otherwise stores a whole wavefront's values into one
    /// bank: see gemm.cl).
    public static func forDevice(_ info: OpenCLDeviceInfo) -> DeviceTuning {
        var t = DeviceTuning()
        t.gemmSplitUnits = info.computeUnits
        // A quarter leaves the rest to the model, its activations and the driver. A CPU device's
        // memory is the host's, where the host's gather and one write were faster than the
        // device's gather on PoCL (BENCHMARKS.md, "Item vectors on the device").
        t.itemVectorBudgetBytes = info.isGPU ? Int(clamping: info.globalMemoryBytes / 4) : 0
        // Likewise a CPU device gains nothing from pinned staging, only a second copy.
        t.stagedWrites = info.isGPU
        if !info.isGPU {
            // CPU OpenCL (PoCL) vectorises across work-items, and local memory is ordinary cache,
            // so padding buys nothing there. 8 x 8 outputs per work-item ran PoCL's GEMM rows
            // 1.8–6.2x faster than 2 x 2 in 32 x 32 tiles, and its training 1.89x (BENCHMARKS.md).
            t.gemm = GemmTiling(tileM: 64, tileN: 64, tileK: 16, workM: 8, workN: 8, pad: 0)
        }
        return t
    }

    public static let gemmSplitVariable = "ARMMT_OPENCL_GEMM_SPLIT"
    public static let itemVectorsVariable = "ARMMT_OPENCL_ITEM_VECTORS_MIB"
    public static let stagedWritesVariable = "ARMMT_OPENCL_STAGED_WRITES"

    /// `forDevice`, then `ARMMT_OPENCL_GEMM`, `ARMMT_OPENCL_GEMM_SPLIT`,
    /// `ARMMT_OPENCL_ITEM_VECTORS_MIB` and `ARMMT_OPENCL_STAGED_WRITES` from `environment` when set
    /// and not empty. A GEMM tiling this device cannot run, the default's or the variable's, a
    /// split or budget that is not a count, or staging that is not 0 or 1, is a usage error naming
    /// where it came from.
    public static func forDevice(_ info: OpenCLDeviceInfo, environment: [String: String]) throws -> DeviceTuning {
        var t = forDevice(info)
        if let text = environment[stagedWritesVariable], !text.isEmpty {
            switch text.trimmingCharacters(in: .whitespaces) {
            case "0": t.stagedWrites = false
            case "1": t.stagedWrites = true
            default:
                throw EngineError.usage("\(stagedWritesVariable)=\"\(text)\": not 0 (blocking writes) or 1 (staged writes)")
            }
        }
        if let mib = try count(environment, itemVectorsVariable, 0...(1 << 30),
                               "a size in MiB", zero: "gathers item vectors on the host") {
            t.itemVectorBudgetBytes = mib << 20
        }
        if let units = try count(environment, gemmSplitVariable, 0...65536,
                                 "a count of compute units", zero: "never splits a GEMM over k") {
            t.gemmSplitUnits = units
        }
        let name = GemmTiling.environmentVariable
        if let text = environment[name], !text.isEmpty {
            t.gemm = try GemmTiling.parse(text)
            try t.gemm.validate(for: info, source: "\(name)=\"\(text)\":")
        } else {
            try t.gemm.validate(for: info, source: "the default", hint: "; set \(name) (README, \"OpenCL GEMM tiling\")")
        }
        return t
    }

    /// The whole number in `environment[name]` (nil when unset or empty); anything outside
    /// `range` is a usage error naming the variable, what it holds, and what 0 does.
    private static func count(_ environment: [String: String], _ name: String, _ range: ClosedRange<Int>,
                              _ what: String, zero: String) throws -> Int? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw EngineError.usage("\(name)=\"\(text)\": not \(what) from \(range.lowerBound) to \(range.upperBound) (0 \(zero))")
        }
        return value
    }

    /// The preamble: element type, device flags, tunables.
    func preamble(for info: OpenCLDeviceInfo) -> String {
        let vendor = info.vendor.lowercased()
        let lines = [
            "#define REAL float",
            "#define DEVICE_IS_GPU \(info.isGPU ? 1 : 0)",
            "#define DEVICE_IS_NVIDIA \(vendor.contains("nvidia") ? 1 : 0)",
            "#define DEVICE_MAX_WORK_GROUP \(info.maxWorkGroupSize)",
            "#define DEVICE_LOCAL_MEM_BYTES \(info.localMemoryBytes)",
            "#define GEMM_TILE_M \(gemm.tileM)",
            "#define GEMM_TILE_N \(gemm.tileN)",
            "#define GEMM_TILE_K \(gemm.tileK)",
            "#define GEMM_WPT_M \(gemm.workM)",
            "#define GEMM_WPT_N \(gemm.workN)",
            "#define GEMM_PAD \(gemm.pad)",
            "#define GEMM_DB \(gemm.doubleBuffer ? 1 : 0)",
            "#define GEMM_VW \(gemm.vectorWidth)",
            "#define EMB_WG \(embeddingWorkGroup)",
            "#define LOSS_WG \(lossWorkGroup)",
            "#define OPT_WG \(optimizerWorkGroup)",
            "#define ATTN_WG \(attentionWorkGroup)",
            "#define ATTN_BQ \(attentionQueryBlock)",
            "#define LN_WG \(layerNormGroupSize)",
            "#define COLRED_COLS \(columnReduceCols)",
            "#define COLRED_ROWS \(columnReduceRows)",
            "#define EW_WG \(elementwiseGroupSize)",
            "#define CAFU_WG \(cafuGroupSize)",
            "#define CAFU_KC \(cafuChunk)",
            "#define CAFU_ACC \(cafuMaxAccumulators)",
            "#define SMAX_WG \(softmaxGroupSize)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
