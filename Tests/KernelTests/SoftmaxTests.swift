import ARMMTGPU
import XCTest

final class SoftmaxTests: XCTestCase {
    typealias S = NormFamilyTestSupport

    /// The Double reference against the formula written out: two samples of 2 rows, L = 4,
    /// sample 1 fully masked (zeros, although its scores are NaN), masked scores of sample 0 NaN.
    func testReferenceKnownValues() {
        let p = MaskedSoftmaxParameters(batch: 2, rowsPerBatch: 2, length: 4, scale: 0.5)
        let x: [Double] = [2, .nan, -4, 6,   0, .nan, 1e3, -2,
                           .nan, .nan, .nan, .nan,   1, 2, 3, 4]
        let mask: [Double] = [1, 0, 1, 1,   0, 0, 0, 0]
        var y = [Double](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { px in mask.withUnsafeBufferPointer { pm in y.withUnsafeMutableBufferPointer { py in
            SoftmaxReference.forward(p, x: px.baseAddress!, keyMask: pm.baseAddress!, y: py.baseAddress!)
        } } }
        func row(_ s: [Double], _ valid: [Bool]) -> [Double] {
            let e = zip(s, valid).map { $1 ? Foundation.exp(0.5 * $0) : 0 }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        let expected = row([2, 0, -4, 6], [true, false, true, true]) + row([0, 0, 1e3, -2], [true, false, true, true])
            + [0, 0, 0, 0] + [0, 0, 0, 0]
        for i in y.indices { XCTAssertEqual(y[i], expected[i], accuracy: 1e-15, "y[\(i)]") }
        // Score 1e3·0.5 dominates its row: the max shift keeps it finite and one-hot.
        XCTAssertEqual(y[6], 1, accuracy: 1e-15)
    }

    func testCPUBackendMatchesReference() {
        S.assertCases(SoftmaxChecks.cases(), on: CPUBackend())
    }

    func testOpenCLMatchesReference() throws {
        let ocl = try S.openCL()
        // Beyond the registered cases: a row longer than a whole work-group's lanes loop, and
        // row counts that leave a group partly empty at every lane count.
        let extra = [
            SoftmaxChecks.make(batch: 1, rowsPerBatch: 3, length: 1000, masking: .random),
            SoftmaxChecks.make(batch: 5, rowsPerBatch: 13, length: 5),
            SoftmaxChecks.make(batch: 2, rowsPerBatch: 7, length: 200, masking: .none),
        ]
        S.assertCases(SoftmaxChecks.cases() + extra, on: ocl)
    }

    /// The CPU backend's parallel rows and a serial run give identical bits.
    func testCPUParallelMatchesSerial() throws {
        let p = MaskedSoftmaxParameters(batch: 64, rowsPerBatch: 128, length: 50, scale: 0.25)
        let (x, mask) = SoftmaxChecks.inputs(batch: 64, rowsPerBatch: 128, length: 50, masking: .withEmptySample, seed: 9)
        func run(_ b: CPUBackend) throws -> [UInt32] {
            let tx = try b.tensor(x, shape: [p.rows, 50]), tm = try b.tensor(mask!, shape: [64, 50])
            let ty = try b.makeTensor([p.rows, 50])
            try b.maskedSoftmaxForward(p, x: tx, keyMask: tm, y: ty)
            return try b.read(ty).map(\.bitPattern)
        }
        XCTAssertEqual(try run(CPUBackend()), try run(CPUBackend(parallel: false)))
    }

    func testValidationErrorsNameTheTensor() throws {
        let cpu = CPUBackend()
        let p = MaskedSoftmaxParameters(batch: 2, rowsPerBatch: 3, length: 4)
        let x = try cpu.makeTensor([6, 4]), m = try cpu.makeTensor([2, 4]), y = try cpu.makeTensor([6, 4])
        S.assertUsageError(mentioning: "softmax x: expected shape [6, 4]") {
            try cpu.maskedSoftmaxForward(p, x: try cpu.makeTensor([5, 4]), keyMask: m, y: y)
        }
        S.assertUsageError(mentioning: "softmax key mask: expected shape [2, 4]") {
            try cpu.maskedSoftmaxForward(p, x: x, keyMask: try cpu.makeTensor([3, 4]), y: y)
        }
        S.assertUsageError(mentioning: "softmax y") {
            try cpu.maskedSoftmaxForward(p, x: x, keyMask: m, y: try cpu.makeTensor([6, 4], dtype: .int32))
        }
        var zeroLength = p
        zeroLength.length = 0
        S.assertUsageError(mentioning: "row length") { try cpu.maskedSoftmaxForward(zeroLength, x: x, keyMask: m, y: y) }
        var nanScale = p
        nanScale.scale = .nan
        S.assertUsageError(mentioning: "scale") { try cpu.maskedSoftmaxForward(nanScale, x: x, keyMask: m, y: y) }
        if let ocl = try? S.openCL() {
            S.assertUsageError(mentioning: "softmax key mask") {
                try ocl.maskedSoftmaxForward(p, x: try ocl.makeTensor([6, 4]), keyMask: try ocl.makeTensor([2, 5]),
                                             y: try ocl.makeTensor([6, 4]))
            }
        }
    }
}
