/// The item table's text and image vectors as float32 in the backend's memory, so that a batch
/// gathers its distinct items there (one `embeddingGather` per modality) and uploads only their
/// ids.
///
/// Why: the default batch (256 requests, K = 32, L = 50) names about 9,700 distinct items
/// (9,679 in the median step of `bench train`, BENCHMARKS.md), whose vectors at D_t = 384 and
/// D_v = 512 are about 35 MB. Gathered on the host and written,
/// they cost the host milliseconds and the bus 35 MB every step while a GPU waits for its
/// inputs. The copy here is made once per item table. The gather copies values exactly, so a
/// step computes the same bits either way.
final class DeviceItemVectors {
    /// The table these vectors copy; a batch of another table needs a new copy.
    let items: ItemTable
    /// `[items.count, D_m]` per modality.
    let tables: [Modality: Tensor]
    let byteCount: Int

    /// Rows converted and written per block by default, so no host copy of a whole table is made.
    static let defaultBlockRows = 4096

    /// Float32 bytes of the vectors of `modalities`.
    static func byteCount(_ items: ItemTable, _ modalities: [Modality]) -> Int {
        modalities.reduce(0) { $0 + items.count * items.dim($1) * MemoryLayout<Float>.size }
    }

    /// Whether `be` keeps the vectors: within its budget and within half the device memory the
    /// model has left (so a large model still trains, gathering on the host), each table within
    /// one allocation the device allows, and indexable with the kernels' 32 bits.
    static func fits(_ items: ItemTable, _ modalities: [Modality], on be: Backend) -> Bool {
        let total = byteCount(items, modalities)
        guard total > 0, total <= be.itemVectorBudgetBytes else { return false }
        let largest = modalities.map { items.count * items.dim($0) }.max() ?? 0
        if largest >= Int(Int32.max) { return false }
        if let cl = be as? OpenCLBackend {
            let info = cl.context.info, held = UInt64(cl.context.memory.liveBytes)
            if UInt64(largest * MemoryLayout<Float>.size) > info.maxAllocationBytes { return false }
            if info.globalMemoryBytes > 0 && UInt64(total) > (info.globalMemoryBytes - min(held, info.globalMemoryBytes)) / 2 {
                return false
            }
        }
        return true
    }

    /// Where batches of `items` get their vectors on `be`, in words for a run's log.
    static func placement(_ items: ItemTable, _ modalities: [Modality], on be: Backend) -> String {
        let bytes = formatBytes(UInt64(byteCount(items, modalities)))
        let budget = "budget \(formatBytes(UInt64(be.itemVectorBudgetBytes))), \(DeviceTuning.itemVectorsVariable)"
        return fits(items, modalities, on: be) ? "item vectors kept on the device (\(bytes); \(budget))"
                                                : "item vectors gathered on the host for each batch (\(bytes); \(budget))"
    }

    init(_ be: Backend, items: ItemTable, modalities: [Modality], blockRows: Int = defaultBlockRows) throws {
        precondition(blockRows > 0, "blockRows must be positive")
        self.items = items
        var tables: [Modality: Tensor] = [:]
        for mod in modalities {
            let width = items.dim(mod)
            let table = try be.makeTensor([items.count, width])
            var ids = [Int32](repeating: 0, count: blockRows)
            var block = [Float](repeating: 0, count: blockRows * width)
            var start = 0
            while start < items.count {
                let rows = min(blockRows, items.count - start)
                for r in 0..<rows { ids[r] = Int32(start + r) }
                ids.withUnsafeBufferPointer { all in
                    block.withUnsafeMutableBufferPointer {
                        items.gatherVectors(mod, UnsafeBufferPointer(rebasing: all[0..<rows]), into: $0.baseAddress!)
                    }
                }
                try be.write(rows == blockRows ? block : Array(block[0..<(rows * width)]), to: table,
                             elementOffset: start * width)
                start += rows
            }
            tables[mod] = table
        }
        self.tables = tables
        byteCount = Self.byteCount(items, modalities)
    }
}

extension ItemTable {
    /// D_t or D_v.
    func dim(_ mod: Modality) -> Int { mod == .text ? textDim : imageDim }

    /// The text or image vectors of `items` into `out` `[n, dim(mod)]`; padding rows are zeros.
    func gatherVectors(_ mod: Modality, _ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        if mod == .text { gatherText(items, into: out) } else { gatherImage(items, into: out) }
    }
}
