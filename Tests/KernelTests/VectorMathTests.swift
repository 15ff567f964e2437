@testable import ARMMTGPU
import Foundation
import XCTest

/// The CPU fast paths' vector exp and normal CDF against Double libm, on dense grids.
final class VectorMathTests: XCTestCase {
    /// Evaluates `f` on `xs` eight at a time.
    private func map(_ xs: [Float], _ f: (Float8) -> Float8) -> [Float] {
        var out = [Float](repeating: .nan, count: xs.count)
        var i = 0
        while i < xs.count {
            var v = Float8()
            for l in 0..<8 { v[l] = xs[min(i + l, xs.count - 1)] }
            let r = f(v)
            for l in 0..<8 where i + l < xs.count { out[i + l] = r[l] }
            i += 8
        }
        return out
    }

    func testExpRelativeError() {
        let xs = (0...400_000).map { Float(-87.3 + 175.6 * Double($0) / 400_000) }
        let ys = map(xs, VectorMath.exp)
        var worst = 0.0
        for (x, y) in zip(xs, ys) {
            let e = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - e) / e)
        }
        print("exp: max relative error \(worst)")
        XCTAssertLessThan(worst, 1.2e-7, "exp max relative error")
        let special = map([-90, -1000, -.infinity, 89, .infinity, .nan, 0, -0.0], VectorMath.exp)
        XCTAssertEqual(Array(special[0..<3]), [0, 0, 0])
        XCTAssertEqual(Array(special[3..<5]), [.infinity, .infinity])
        XCTAssertTrue(special[5].isNaN)
        XCTAssertEqual(Array(special[6..<8]), [1, 1])
    }

    /// Φ(u) = ½ erfc(-u/√2): absolute error ≤ 1e-7 everywhere, relative error small in the lower tail.
    func testNormalCDFError() {
        let us = (0...600_000).map { Float(-12 + 24 * Double($0) / 600_000) }
        let ps = map(us, VectorMath.normalCDF)
        var worstAbs = 0.0, worstRel5 = 0.0, worstRel8 = 0.0
        for (u, p) in zip(us, ps) {
            let e = 0.5 * erfc(-Double(u) / 2.0.squareRoot())
            worstAbs = max(worstAbs, abs(Double(p) - e))
            if u >= -5 { worstRel5 = max(worstRel5, abs(Double(p) - e) / e) }
            if u >= -8.4 { worstRel8 = max(worstRel8, abs(Double(p) - e) / e) }
            if u < -8.5 { XCTAssertEqual(p, 0, "Φ(\(u))") }
        }
        print("Φ: max abs error \(worstAbs), max rel error \(worstRel5) for u ≥ -5, \(worstRel8) for u ≥ -8.4")
        XCTAssertLessThan(worstAbs, 1e-7, "Φ max absolute error")
        XCTAssertLessThan(worstRel5, 1.2e-6, "Φ max relative error for u ≥ -5")
        XCTAssertLessThan(worstRel8, 6e-6, "Φ max relative error for u ≥ -8.4")
        let special = map([.infinity, -.infinity, .nan, 0], VectorMath.normalCDF)
        XCTAssertEqual(special[0], 1)
        XCTAssertEqual(special[1], 0)
        XCTAssertTrue(special[2].isNaN)
        XCTAssertEqual(special[3], 0.5)
    }

    /// φ(u) = e^(-u²/2)/√(2π).
    /// The vector square root gives the scalar one's bits on every kind of input: normals,
    /// subnormals, ±0, negatives (NaN), ±∞ and NaN.
    func testSquareRootGivesTheScalarBits() {
        var rng = SeededRandom(seed: 5)
        var xs = rng.floats(1000, 0, 1e6) + rng.floats(200, 0, 1e-3)
        xs += [0, -0, 1, 2, -1, -1e-30, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .leastNormalMagnitude,
               .greatestFiniteMagnitude, Float(bitPattern: 0x0000_1234), 4]
        let vector = map(xs, VectorMath.squareRoot), scalar = xs.map { $0.squareRoot() }
        XCTAssertEqual(vector.map(\.bitPattern), scalar.map(\.bitPattern))
    }

    func testNormalPDF() {
        let us = (0...100_000).map { Float(-10 + 20 * Double($0) / 100_000) }
        let ps = map(us, VectorMath.normalPDF)
        for (u, p) in zip(us, ps) {
            let e = Foundation.exp(-0.5 * Double(u) * Double(u)) / (2 * Double.pi).squareRoot()
            // Rounding -u²/2 to float moves the result by up to ½ulp(u²/2) relative.
            let allowed = (3e-7 + 0.5 * Double(u * u) * 0x1.0p-24) * e
            XCTAssertLessThanOrEqual(abs(Double(p) - e), allowed, "φ(\(u))")
        }
    }
}
