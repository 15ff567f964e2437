import ARMMTGPU
import XCTest

/// Helpers shared by EmbeddingTests, LossTests and OptimizerTests.
enum MiscTestSupport {
    /// Sizes that straddle every work-group and tile size (the covering set the brief asks for).
    static let sizes = [1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129]

    private static var sharedOpenCL: OpenCLBackend?

    /// The first OpenCL device (PoCL in CI), built once for all three test classes; skips
    /// only when no OpenCL device exists at all.
    static func openCL() throws -> OpenCLBackend {
        if OpenCLInventory.shared.devices.isEmpty { throw XCTSkip("no OpenCL device") }
        if let b = sharedOpenCL { return b }
        let b = try OpenCLBackend(deviceIndex: 0)
        sharedOpenCL = b
        return b
    }

    /// Runs every case on `backend` and fails the test, naming case, tensor and element, for each
    /// comparison outside the tolerance. Returns how many comparisons ran (so a test can check
    /// that it checked something).
    @discardableResult
    static func assertPass(_ cases: [EquivalenceCase], on backend: Backend,
                           file: StaticString = #filePath, line: UInt = #line) -> Int {
        var compared = 0
        for c in cases {
            do {
                for r in try c.run(backend) {
                    compared += 1
                    XCTAssert(r.passed, "\(backend.name) \(c.op) \(c.shape): \(r.tensor)[\(r.firstFailure ?? -1)] off by \(r.worstRatio)× the tolerance (max abs \(r.maxAbsError))",
                              file: file, line: line)
                }
            } catch {
                XCTFail("\(backend.name) \(c.op) \(c.shape) threw: \(error)", file: file, line: line)
            }
        }
        return compared
    }

    /// Asserts that `body` throws an `EngineError` whose message contains `fragment`.
    static func assertUsageError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line,
                                 _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error mentioning '\(fragment)'", file: file, line: line)
        } catch let e as EngineError {
            XCTAssert(e.message.contains(fragment), "error '\(e.message)' does not mention '\(fragment)'", file: file, line: line)
        } catch {
            XCTFail("expected an EngineError, got \(error)", file: file, line: line)
        }
    }
}
