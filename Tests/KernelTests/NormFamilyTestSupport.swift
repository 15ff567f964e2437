import ARMMTGPU
import XCTest

/// Helpers shared by the LayerNorm, elementwise and CAFU tests.
enum NormFamilyTestSupport {
    /// The OpenCL device under test (PoCL in CI); skips when the machine has none.
    static func openCL() throws -> OpenCLBackend {
        if OpenCLInventory.shared.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        return try OpenCLBackend(deviceIndex: 0)
    }

    /// Runs every case on `backend` and fails the test for each comparison that does not pass,
    /// naming the tensor and element.
    static func assertCases(_ cases: [EquivalenceCase], on backend: Backend,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(cases.isEmpty, "no cases", file: file, line: line)
        for c in cases {
            do {
                for cmp in try c.run(backend) where !cmp.passed {
                    XCTFail("\(backend.kind) \(c.op) \(c.shape): \(cmp.tensor)[\(cmp.firstFailure!)] off by \(cmp.worstRatio)× the tolerance (max abs \(cmp.maxAbsError))",
                            file: file, line: line)
                }
            } catch {
                XCTFail("\(backend.kind) \(c.op) \(c.shape): \(error)", file: file, line: line)
            }
        }
    }

    /// Central-difference derivative of a scalar loss with respect to every element of `values`:
    /// `loss` is evaluated with one element moved by ±h at a time.
    static func numericGradient(_ values: [Double], h: Double = 1e-6, loss: ([Double]) -> Double) -> [Double] {
        var v = values
        var g = [Double](repeating: 0, count: values.count)
        for i in values.indices {
            let x0 = v[i]
            v[i] = x0 + h
            let lp = loss(v)
            v[i] = x0 - h
            let lm = loss(v)
            v[i] = x0
            g[i] = (lp - lm) / (2 * h)
        }
        return g
    }

    /// Asserts |analytic − numeric| ≤ rtol·(|numeric| + max|numeric|) + atol elementwise. atol is
    /// the central difference's own noise: loss roundoff (~1e-16 of an O(1) loss) divided by h.
    static func assertClose(_ analytic: [Double], _ numeric: [Double], _ name: String, rtol: Double = 1e-6, atol: Double = 1e-9,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.count, numeric.count, name, file: file, line: line)
        let scale = numeric.map(abs).max() ?? 0
        for i in analytic.indices {
            let err = abs(analytic[i] - numeric[i])
            if !(err <= rtol * (abs(numeric[i]) + scale) + atol) {
                XCTFail("\(name)[\(i)]: analytic \(analytic[i]) vs numeric \(numeric[i])", file: file, line: line)
                return
            }
        }
    }

    /// Asserts that `body` throws an `EngineError` whose message mentions `role`.
    static func assertUsageError(mentioning role: String, file: StaticString = #filePath, line: UInt = #line,
                                 _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error naming \(role)", file: file, line: line)
        } catch let e as EngineError {
            XCTAssertTrue("\(e)".contains(role), "error \(e) does not name \(role)", file: file, line: line)
        } catch {
            XCTFail("expected EngineError, got \(error)", file: file, line: line)
        }
    }

    static func random(_ count: Int, seed: UInt64, _ lo: Double = -1, _ hi: Double = 1) -> [Double] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in rng.uniform(lo, hi) }
    }
}
