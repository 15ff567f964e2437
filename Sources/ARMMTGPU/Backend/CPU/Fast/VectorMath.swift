#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Eight floats: one AVX2 register, the unit the CPU fast paths compute in.
typealias Float8 = SIMD8<Float>

/// Vectorised `exp` and normal CDF for the CPU fast paths: libm has no vector entry points
/// Swift can call, and one scalar `expf`/`erff` call per element dominated softmax and GELU.
///
/// Accuracy (checked against Double libm in `VectorMathTests`):
/// - `exp`: relative error ≤ 1e-7 (about 1 ulp) for x in [-87.3, 88.3]; exactly 0 below
///   -87.33 (where expf turns subnormal), +inf above 88.37; NaN stays NaN. Every caller passes
///   x ≤ 0 (scores minus their maximum, -u²/2).
/// - `normalCDF` Φ(u) = ½(1 + erf(u/√2)): absolute error ≤ 1e-7 on the whole line; in the
///   lower tail relative error ≤ 1.1e-6 down to u = -5 (Φ ≈ 3e-7), ≤ 6e-6 down to u = -8.48
///   (Φ ≈ 1e-17), and exactly 0 below. That is inside the tolerance rule's
///   rtol = 16·2⁻²⁴·√4 ≈ 1.9e-6 for GELU, and more accurate than ½(1 + erff(z)) in Float,
///   which loses every digit to cancellation once Φ < 6e-8.
enum VectorMath {
    /// a·b + c, one rounding (vfmadd with -target-cpu haswell).
    @inline(__always) static func fma(_ a: Float8, _ b: Float8, _ c: Float8) -> Float8 { c.addingProduct(a, b) }
    @inline(__always) static func fma(_ a: Float8, _ b: Float8, _ c: Float) -> Float8 { Float8(repeating: c).addingProduct(a, b) }

    /// e^x: Cody–Waite reduction x = n·ln2 + r with |r| ≤ ln2/2, Cephes' `expf` polynomial for
    /// e^r, and 2^n assembled in the exponent bits.
    /// `@_transparent`: with `@inline(__always)` alone the optimiser still left calls to it in
    /// the attention softmax loop.
    @_transparent static func exp(_ x: Float8) -> Float8 {
        let lo: Float = -87.336_54, hi: Float = 88.376_26  // e^lo = 2⁻¹²⁶; hi·log2(e) = 127.5
        // Clamping by select (not min/max) keeps NaN lanes NaN.
        var xc = x.replacing(with: lo, where: x .< lo)
        xc = xc.replacing(with: hi, where: xc .> hi)
        // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer, held in the low mantissa bits.
        let magic: Float = 12_582_912
        let t = fma(xc, Float8(repeating: 1.442_695_04), magic)
        let n = t - magic
        var r = fma(n, Float8(repeating: -0.693_359_375), xc)
        r = fma(n, Float8(repeating: 2.121_944_40e-4), r)
        var p = Float8(repeating: 1.987_569_150_0e-4)
        p = fma(p, r, 1.398_199_950_7e-3)
        p = fma(p, r, 8.333_451_907_3e-3)
        p = fma(p, r, 4.166_579_589_4e-2)
        p = fma(p, r, 1.666_666_545_9e-1)
        p = fma(p, r, 5.000_000_120_1e-1)
        let y = fma(p, r * r, r) + 1
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: Float8.self)
        var e = y * scale
        e = e.replacing(with: 0, where: x .< lo)
        return e.replacing(with: .infinity, where: x .> hi)
    }

    /// Natural log for x ≥ 1 (attention's softmax sums, whose largest term is e⁰ = 1), with
    /// Cephes' `logf` reduction and polynomial: x = 2^e·m, m in [√½, √2), log m = f − f²/2 +
    /// f³·P(f) with f = m − 1, plus e·ln2 in two parts. Relative error about 1 ulp; NaN stays NaN.
    /// Valid for every positive normal x (no subnormal, zero or infinity handling).
    /// `@_transparent` for the reason `exp` is.
    @_transparent static func log(_ x: Float8) -> Float8 {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        // m in [0.5, 1) with the exponent 2^e split off.
        var e = Float8((bits &>> 23) &- 126)
        var m = unsafeBitCast((bits & 0x007f_ffff) | 0x3f00_0000, to: Float8.self)
        let small = m .< 0.707_106_781_186_547_524
        e = e.replacing(with: e - 1, where: small)
        m = m.replacing(with: m + m, where: small)
        let f = m - 1, z = f * f
        var y = Float8(repeating: 7.037_683_629_2e-2)
        y = fma(y, f, -1.151_461_031_0e-1)
        y = fma(y, f, 1.167_699_874_0e-1)
        y = fma(y, f, -1.242_014_084_6e-1)
        y = fma(y, f, 1.424_932_278_7e-1)
        y = fma(y, f, -1.666_805_766_5e-1)
        y = fma(y, f, 2.000_071_476_5e-1)
        y = fma(y, f, -2.499_999_399_3e-1)
        y = fma(y, f, 3.333_333_117_4e-1)
        y = y * f * z
        y = fma(e, Float8(repeating: -2.121_944_40e-4), y)
        y = fma(Float8(repeating: -0.5), z, y)
        let r = fma(e, Float8(repeating: 0.693_359_375), f + y)
        return r.replacing(with: x, where: x .!= x)
    }

    /// |x| by clearing the sign bit.
    @inline(__always) static func abs(_ x: Float8) -> Float8 {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: Float8.self)
    }

    /// Φ(u) = ½(1 + erf(u/√2)), the standard normal CDF (GELU's gate).
    ///
    /// With z = u/√2, t = |z|: for t ≤ 0.921875, erf(z) = z + z·P(z²) (N. Juffa's minimax
    /// polynomial, < 1 ulp); above, erfc(t) = exp(-t² + G(t)) with G a degree-10 fit of
    /// log erfc(t) + t² on [0.921875, 6], and Φ = 1 - ½erfc(t) or ½erfc(t) by the sign of z,
    /// so the lower tail never forms 1 + erf (which cancels).
    @inline(__always) static func normalCDF(_ u: Float8) -> Float8 {
        let z = u * 0.707_106_781_186_547_52
        let t = abs(z), s = z * z
        var r = Float8(repeating: -5.967_617_03e-4)
        r = fma(r, s, 4.991_194_23e-3)
        r = fma(r, s, -2.676_813_49e-2)
        r = fma(r, s, 1.128_199_25e-1)
        r = fma(r, s, -3.761_253_36e-1)
        r = fma(r, s, 1.283_791_66e-1)
        let small = fma(Float8(repeating: 0.5), fma(r, z, z), 0.5)

        let tc = t.replacing(with: 6, where: t .> 6)
        var g = Float8(repeating: 5.754_766_885_246_454e-09)
        g = fma(g, tc, -2.849_358_793_355_35e-07)
        g = fma(g, tc, 6.425_418_177_968_822e-06)
        g = fma(g, tc, -8.776_248_432_695_866e-05)
        g = fma(g, tc, 8.153_566_159_307_957e-04)
        g = fma(g, tc, -5.494_389_217_346_907e-03)
        g = fma(g, tc, 2.804_233_506_321_907e-02)
        g = fma(g, tc, -1.124_099_716_544_151_3e-01)
        g = fma(g, tc, 3.702_671_825_885_772_7e-01)
        g = fma(g, tc, -1.131_296_873_092_651_4)
        g = fma(g, tc, 5.524_258_594_959_974e-04)
        // -t² as -½u·u in one rounding: squaring the rounded u/√2 would cost 2·6e-8·t² relative.
        var halfErfc = 0.5 * exp(fma(-0.5 * u, u, g))
        halfErfc = halfErfc.replacing(with: 0, where: t .> 6)
        let tail = halfErfc.replacing(with: 1 - halfErfc, where: z .> 0)
        return small.replacing(with: tail, where: t .> 0.921_875)
    }

    /// Φ'(u) = e^(-u²/2) / √(2π), the standard normal density.
    @inline(__always) static func normalPDF(_ u: Float8) -> Float8 {
        0.398_942_280_401_432_677_94 * exp(-0.5 * u * u)
    }

    /// √x lane by lane in one vector instruction (IEEE, correctly rounded: the bits of the
    /// scalar square root). `SIMD8.squareRoot()` compiles to eight scalar square roots, each
    /// with a call for negative lanes.
    @inline(__always) static func squareRoot(_ x: Float8) -> Float8 {
        #if arch(x86_64)
        _mm256_sqrt_ps(x)
        #else
        x.squareRoot()
        #endif
    }

    /// Lane-wise maximum by compare-and-select (`pointwiseMax` is not inlined).
    @inline(__always) static func max(_ a: Float8, _ b: Float8) -> Float8 { a.replacing(with: b, where: b .> a) }

    /// The largest lane, by halving.
    @inline(__always) static func horizontalMax(_ v: Float8) -> Float {
        let h4 = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let h2 = h4.lowHalf.replacing(with: h4.highHalf, where: h4.highHalf .> h4.lowHalf)
        return Swift.max(h2[0], h2[1])
    }

    /// The sum of the lanes, by halving (a fixed order).
    @inline(__always) static func horizontalSum(_ v: Float8) -> Float {
        let h4 = v.lowHalf + v.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }

    /// Loads `count` (< 8) floats into the low lanes, zeros above.
    @inline(__always) static func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> Float8 {
        var v = Float8()
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the low `count` (< 8) lanes.
    @inline(__always) static func storePartial(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { p[i] = v[i] }
    }
}

extension UnsafePointer where Pointee == Float {
    /// Eight floats from `self + i` (unaligned).
    @inline(__always) func load8(_ i: Int) -> Float8 {
        UnsafeRawPointer(self + i).loadUnaligned(as: Float8.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load8(_ i: Int) -> Float8 {
        UnsafeRawPointer(self + i).loadUnaligned(as: Float8.self)
    }

    /// Stores eight floats at `self + i` (unaligned).
    @inline(__always) func store8(_ v: Float8, _ i: Int) {
        UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: Float8.self)
    }
}
