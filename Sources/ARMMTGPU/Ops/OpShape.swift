/// Shape checks for ops that address their tensors as flat arrays: a tensor passes when it is
/// float32 and holds exactly the elements of the logical shape, whatever its own shape
/// (`[B, K, d]` serves as `[B·K, d]`), so callers never reshape.
enum OpShape {
    static func require(_ t: Tensor, _ logical: [Int], _ role: String, dtype: DType = .float32) throws {
        try Check.dtype(t, dtype, role)
        let n = logical.reduce(1, *)
        guard t.count == n else {
            throw EngineError.usage("\(role): expected shape \(logical.shapeDescription) (\(n) elements), got \(t.shape.shapeDescription) (\(t.count) elements)")
        }
    }
}
