/// Short loops over one row of floats, eight at a time with a scalar tail, for the fast paths
/// that work row by row (CAFU, the window copies). Every sum runs in a fixed order.
enum RowVectors {
    /// dst = a·src.
    @inline(__always) static func scale(_ src: UnsafePointer<Float>, by a: Float, into dst: UnsafeMutablePointer<Float>, count n: Int) {
        let av = Float8(repeating: a)
        var j = 0
        while j + 8 <= n { dst.store8(av * src.load8(j), j); j += 8 }
        while j < n { dst[j] = a * src[j]; j += 1 }
    }

    /// dst += a·src.
    @inline(__always) static func addScaled(_ src: UnsafePointer<Float>, by a: Float, into dst: UnsafeMutablePointer<Float>, count n: Int) {
        let av = Float8(repeating: a)
        var j = 0
        while j + 8 <= n { dst.store8(dst.load8(j).addingProduct(av, src.load8(j)), j); j += 8 }
        while j < n { dst[j] = dst[j].addingProduct(a, src[j]); j += 1 }
    }

    /// dst += src.
    @inline(__always) static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int) {
        var j = 0
        while j + 8 <= n { dst.store8(dst.load8(j) + src.load8(j), j); j += 8 }
        while j < n { dst[j] += src[j]; j += 1 }
    }

    /// Σ a[j]·b[j]: two vector accumulators (even, odd groups of eight), then the tail.
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        var s0 = Float8(), s1 = Float8()
        var j = 0
        while j + 16 <= n {
            s0 = s0.addingProduct(a.load8(j), b.load8(j))
            s1 = s1.addingProduct(a.load8(j + 8), b.load8(j + 8))
            j += 16
        }
        if j + 8 <= n { s0 = s0.addingProduct(a.load8(j), b.load8(j)); j += 8 }
        var s = VectorMath.horizontalSum(s0 + s1)
        while j < n { s = s.addingProduct(a[j], b[j]); j += 1 }
        return s
    }

    /// e^x in place over `n` floats (`VectorMath.exp`; -inf gives 0).
    @inline(__always) static func expInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var j = 0
        while j + 8 <= n { x.store8(VectorMath.exp(x.load8(j)), j); j += 8 }
        if j < n {
            let v = VectorMath.exp(VectorMath.loadPartial(x + j, n - j))
            VectorMath.storePartial(v, x + j, n - j)
        }
    }
}
