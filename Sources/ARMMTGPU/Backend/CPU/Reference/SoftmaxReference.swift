/// CPU reference of the masked row softmax (math and shapes: `SoftmaxOps`), generic so the
/// same code is the Float CPU backend and the Double reference the checks compare against.
public enum SoftmaxReference {
    /// Rows `rows` of the softmax; `x` and `y` may alias (each element is read before it is
    /// written, row by row). Three passes over a row that stays in cache: max, sum, write.
    public static func forward<T: ReferenceScalar>(_ p: MaskedSoftmaxParameters, x: UnsafePointer<T>,
                                                   keyMask: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
                                                   rows: Range<Int>) {
        let n = p.length, s = T(p.scale)
        for r in rows {
            let xr = x + r * n, yr = y + r * n
            let mr = keyMask.map { $0 + (r / max(p.rowsPerBatch, 1)) * n }
            var m = -T.infinity
            for j in 0..<n where mr == nil || mr![j] != 0 { m = max(m, s * xr[j]) }
            var sum = T(0)
            for j in 0..<n where mr == nil || mr![j] != 0 { sum += T.exp(s * xr[j] - m) }
            // No valid key: sum = 0 and every output is a masked zero.
            let inv = sum > 0 ? 1 / sum : 0
            for j in 0..<n { yr[j] = mr == nil || mr![j] != 0 ? T.exp(s * xr[j] - m) * inv : 0 }
        }
    }

    /// Every row.
    public static func forward<T: ReferenceScalar>(_ p: MaskedSoftmaxParameters, x: UnsafePointer<T>,
                                                   keyMask: UnsafePointer<T>?, y: UnsafeMutablePointer<T>) {
        forward(p, x: x, keyMask: keyMask, y: y, rows: 0..<p.rows)
    }
}
