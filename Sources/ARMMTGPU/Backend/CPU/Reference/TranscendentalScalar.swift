import Foundation

/// A float type with the transcendental functions the references need (exp for softmax and
/// GELU's density, erf for exact GELU), in `Float` for the CPU backend and `Double` for the
/// reference.
public protocol TranscendentalScalar: BinaryFloatingPoint {
    static func referenceExp(_ x: Self) -> Self
    static func referenceErf(_ x: Self) -> Self
}

extension Float: TranscendentalScalar {
    @inline(__always) public static func referenceExp(_ x: Float) -> Float { Foundation.exp(x) }
    @inline(__always) public static func referenceErf(_ x: Float) -> Float { Foundation.erf(x) }
}

extension Double: TranscendentalScalar {
    @inline(__always) public static func referenceExp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func referenceErf(_ x: Double) -> Double { Foundation.erf(x) }
}
