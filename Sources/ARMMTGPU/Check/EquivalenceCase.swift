import Foundation

/// One run-time equivalence check: an op at one shape on a device under test, compared with
/// the Double CPU reference on the same seeded random inputs.
///
/// `armmt-gpu selftest` runs these on any device; `Tests/KernelTests` runs the same cases
/// (and more sizes) under XCTest. Inputs are never all zeros, and outputs are filled with NaN
/// before each run so an element the device never wrote cannot pass.
public struct EquivalenceCase: Sendable {
    public let op: String
    public let shape: String
    /// Part of `selftest --quick` (tiny shapes: fast on any device and under oclgrind).
    public let quick: Bool
    public let run: @Sendable (Backend) throws -> [Comparison]

    public init(op: String, shape: String, quick: Bool, run: @escaping @Sendable (Backend) throws -> [Comparison]) {
        self.op = op
        self.shape = shape
        self.quick = quick
        self.run = run
    }
}

/// One row of a self-test report.
public struct CheckRow: Codable, Sendable {
    public var op: String
    public var shape: String
    public var maxAbsError: Double
    public var maxRelError: Double
    public var passed: Bool
    /// The failing tensor and element, or the error that stopped the case.
    public var detail: String?
}

public enum SelfTest {
    /// Every registered case, in report order.
    public static func cases() -> [EquivalenceCase] {
        GemmChecks.cases()
            + CopyChecks.cases()
            + EmbeddingChecks.cases()
            + LossChecks.cases()
            + OptimizerChecks.cases()
            + AttentionChecks.cases()
            + LayerNormChecks.cases()
            + ElementwiseChecks.cases()
            + CAFUChecks.cases()
            + SoftmaxChecks.cases()
            + UnfusedAttentionChecks.cases()
    }

    /// Runs `cases` on `backend`; a thrown error fails that case and the run goes on.
    public static func run(_ cases: [EquivalenceCase], on backend: Backend, progress: ((CheckRow) -> Void)? = nil) -> [CheckRow] {
        cases.map { c in
            let row: CheckRow
            do {
                let comparisons = try c.run(backend)
                let failed = comparisons.first { !$0.passed }
                row = CheckRow(op: c.op, shape: c.shape,
                               maxAbsError: comparisons.map(\.maxAbsError).max() ?? 0,
                               maxRelError: comparisons.map(\.maxRelError).max() ?? 0,
                               passed: failed == nil,
                               detail: failed.map { "\($0.tensor)[\($0.firstFailure!)] off by \(String(format: "%.3g", $0.worstRatio))× the tolerance" })
            } catch {
                row = CheckRow(op: c.op, shape: c.shape, maxAbsError: .nan, maxRelError: .nan, passed: false,
                               detail: "\(error)")
            }
            progress?(row)
            return row
        }
    }
}
