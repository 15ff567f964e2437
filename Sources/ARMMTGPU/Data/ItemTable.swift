import Foundation

/// The item table: one row per item, memory-mapped from the data set's items file.
///
/// Candidates and behaviours are int32 indices into it (-1 = padding). Nothing is copied per
/// request: the gather functions read the rows a batch needs straight from the mapping into a
/// caller's buffer, widening float16 to float32 on the way.
public final class ItemTable: @unchecked Sendable {
    public let path: String
    public let count: Int
    /// D_t, D_v (0 when the data set has no text / no image).
    public let textDim: Int
    public let imageDim: Int
    /// F_c categorical columns (vocabularies in the schema), F_d dense columns.
    public let categoricalCount: Int
    public let denseCount: Int
    /// Presence flags per item: 1 = the modality is there, 0 = missing (its vector is ignored).
    /// All ones when the file stores no flags; all zeros when the dimension is 0.
    public let hasText: [Float]
    public let hasImage: [Float]

    let text: TensorView?
    let image: TensorView?
    let categorical: TensorView?
    let dense: TensorView?
    let file: SafeTensorsFile

    static func rules(_ s: DatasetSchema) -> [TensorRule] {
        let i = s.items
        return [
            TensorRule(name: "text", dtypes: TensorRule.floatTypes + [.F64], shape: [i, s.dims.text], values: .finite, required: s.dims.text > 0),
            TensorRule(name: "image", dtypes: TensorRule.floatTypes + [.F64], shape: [i, s.dims.image], values: .finite, required: s.dims.image > 0),
            TensorRule(name: "has_text", dtypes: TensorRule.flagTypes, shape: [i], values: .flag, required: false),
            TensorRule(name: "has_image", dtypes: TensorRule.flagTypes, shape: [i], values: .flag, required: false),
            TensorRule(name: "categorical", dtypes: TensorRule.indexTypes, shape: [i, s.itemCategorical.count],
                       values: .categories(vocabs: s.itemCategorical.map(\.vocab)), required: !s.itemCategorical.isEmpty),
            TensorRule(name: "dense", dtypes: TensorRule.floatTypes + [.F64], shape: [i, s.itemDense.count], values: .finite, required: !s.itemDense.isEmpty),
        ]
    }

    /// Opens and fully validates the item table against `schema`.
    init(path: String, schema: DatasetSchema) throws {
        self.path = path
        let (file, _) = try TensorChecker.open(path: path, rules: Self.rules(schema), rowSource: nil)
        self.file = file
        count = schema.items
        textDim = schema.dims.text
        imageDim = schema.dims.image
        categoricalCount = schema.itemCategorical.count
        denseCount = schema.itemDense.count
        func view(_ name: String, _ width: Int) throws -> TensorView? {
            width > 0 && file.info(name) != nil ? try file.view(name) : nil
        }
        text = try view("text", textDim)
        image = try view("image", imageDim)
        categorical = try view("categorical", categoricalCount)
        dense = try view("dense", denseCount)
        func flags(_ name: String, _ width: Int) throws -> [Float] {
            if width == 0 { return [Float](repeating: 0, count: schema.items) }
            if file.info(name) != nil { return try file.floats(name) }
            return [Float](repeating: 1, count: schema.items)
        }
        hasText = try flags("has_text", textDim)
        hasImage = try flags("has_image", imageDim)
    }

    @inline(__always)
    private func gatherRows(_ view: TensorView?, width: Int, _ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        guard width > 0 else { return }
        // Rows are independent copies, so splitting them over cores cannot change a bit.
        CPUParallel.forEachRange(items.count, workPerItem: width) { rows in
            for r in rows {
                let dst = out + r * width, item = items[r]
                if item < 0 || view == nil {
                    dst.initialize(repeating: 0, count: width)
                } else {
                    view!.copyFloats(from: Int(item) * width, count: width, into: dst)
                }
            }
        }
    }

    /// Text vectors of `items` into `out` `[n, D_t]` row-major; padding (-1) rows are zeros.
    public func gatherText(_ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        gatherRows(text, width: textDim, items, into: out)
    }

    /// Image vectors of `items` into `out` `[n, D_v]`; padding rows are zeros.
    public func gatherImage(_ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        gatherRows(image, width: imageDim, items, into: out)
    }

    /// Dense statistics of `items` into `out` `[n, F_d]`; padding rows are zeros.
    public func gatherDense(_ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        gatherRows(dense, width: denseCount, items, into: out)
    }

    /// Categorical ids of `items` into `out` `[n, F_c]`; padding rows get id 0 (mask them).
    public func gatherCategorical(_ items: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Int32>) {
        let width = categoricalCount
        guard width > 0 else { return }
        for (r, item) in items.enumerated() {
            let dst = out + r * width
            if item < 0 || categorical == nil {
                dst.initialize(repeating: 0, count: width)
            } else {
                categorical!.copyInt32s(from: Int(item) * width, count: width, into: dst)
            }
        }
    }

    /// Presence flags of `items` into `text` and `image` `[n]` (1 present, 0 missing or padding).
    public func gatherPresence(_ items: UnsafeBufferPointer<Int32>, text: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<Float>) {
        for (r, item) in items.enumerated() {
            if item < 0 {
                text[r] = 0
                image[r] = 0
            } else {
                text[r] = hasText[Int(item)]
                image[r] = hasImage[Int(item)]
            }
        }
    }

    // Array conveniences (allocate the result).

    public func gatherText(_ items: [Int32]) -> [Float] { gathered(items, textDim) { gatherText($0, into: $1) } }
    public func gatherImage(_ items: [Int32]) -> [Float] { gathered(items, imageDim) { gatherImage($0, into: $1) } }
    public func gatherDense(_ items: [Int32]) -> [Float] { gathered(items, denseCount) { gatherDense($0, into: $1) } }

    public func gatherCategorical(_ items: [Int32]) -> [Int32] {
        var out = [Int32](repeating: 0, count: items.count * categoricalCount)
        items.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { if let b = $0.baseAddress { gatherCategorical(src, into: b) } }
        }
        return out
    }

    private func gathered(_ items: [Int32], _ width: Int, _ body: (UnsafeBufferPointer<Int32>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var out = [Float](repeating: 0, count: items.count * width)
        items.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { if let b = $0.baseAddress { body(src, b) } }
        }
        return out
    }
}
