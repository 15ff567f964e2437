import Foundation

/// A seeded, portable random source (xoshiro256** seeded through SplitMix64): the same seed
/// gives the same stream on every machine and Swift version, which `SystemRandomNumberGenerator`
/// does not promise. Used for test inputs, initialisation and synthetic data.
public struct SeededRandom: RandomNumberGenerator, Codable, Sendable, Equatable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var x = seed
        var s = [UInt64]()
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            s.append(z ^ (z >> 31))
        }
        state = s
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Standard normal (Box–Muller; one value per call, the pair's second is discarded for simplicity).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 0x1.0p-53)
        let u2 = unit()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// `count` floats uniform in [lo, hi).
    public mutating func floats(_ count: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
        (0..<count).map { _ in Float(uniform(lo, hi)) }
    }

    /// Uniform integer in 0..<n.
    public mutating func index(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
