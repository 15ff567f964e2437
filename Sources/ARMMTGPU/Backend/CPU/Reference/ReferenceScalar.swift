import Foundation

/// A float type with the transcendental functions the generic references need, so the same code
/// runs in `Float` (the CPU backend) and `Double` (the reference that checks and gradient tests
/// compare against): exp and log for softmax and losses, exp2 for list-wise gains, log1p for
/// stable BCE, erf for exact GELU.
public protocol ReferenceScalar: BinaryFloatingPoint {
    static func exp(_ x: Self) -> Self
    static func exp2(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
}

extension Float: ReferenceScalar {
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inline(__always) public static func exp2(_ x: Float) -> Float { Foundation.exp2f(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { Foundation.log1pf(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { Foundation.erff(x) }
}

extension Double: ReferenceScalar {
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func exp2(_ x: Double) -> Double { Foundation.exp2(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @inline(__always) public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
}
