@testable import ARMMTGPU
import Foundation
import XCTest

/// The optimizer kernels take up to 8 tensors per launch: batching changes no bits, and the
/// host's batches skip empty tensors.
final class OptimizerBatchingTests: XCTestCase {
    func testLaunchesSkipEmptyTensorsAndHoldAtMostEight() {
        XCTAssertTrue(OpenCLBackend.launches([]).isEmpty)
        XCTAssertTrue(OpenCLBackend.launches([0, 0]).isEmpty)
        let one = OpenCLBackend.launches([2, 0, 1])
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(one[0].count, 2)
        XCTAssertEqual(one[0].groups, 3)
        XCTAssertEqual(one[0].slots.map(\.tensor), [0, 2, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(one[0].slots.map(\.first), [0, 2, 3, 3, 3, 3, 3, 3])
        let groups = (0..<20).map { $0 % 5 == 1 ? 0 : $0 + 1 }
        let launches = OpenCLBackend.launches(groups)
        XCTAssertEqual(launches.map(\.count), [8, 8])
        XCTAssertEqual(launches.flatMap { $0.slots.prefix($0.count).map(\.tensor) }, groups.indices.filter { groups[$0] > 0 })
        for l in launches {
            XCTAssertEqual(l.groups, l.slots.prefix(l.count).reduce(0) { $0 + groups[$1.tensor] })
        }
    }

    /// 19 tensors through one batched call against one call per tensor, two steps, with a clip
    /// scale: the same parameter, m and v bits on each backend.
    func testABatchedStepGivesTheBitsOfOneCallPerTensor() throws {
        var backends: [Backend] = [CPUBackend()]
        if !OpenCLInventory.shared.devices.isEmpty { backends.append(try MiscTestSupport.openCL()) }
        let counts = [1, 2, 255, 256, 257, 0, 31, 4097, 7, 64, 65, 1, 0, 300, 8, 9, 1023, 3, 70_001]
        var rng = SeededRandom(seed: 41)
        let initial = counts.map { rng.floats($0, -1, 1) }
        let grads = (0..<2).map { _ in counts.map { rng.floats($0, -0.5, 0.5) } }
        for b in backends {
            func state() throws -> [[Tensor]] {
                try (0..<3).map { _ in try initial.map { try b.tensor($0, shape: [$0.count]) } }
            }
            let batched = try state(), single = try state()
            let scale = try b.tensor([0.7], shape: [1])
            for (step, g) in grads.enumerated() {
                let tg = try g.map { try b.tensor($0, shape: [$0.count]) }
                let p = AdamWParameters(learningRate: 2e-3, weightDecay: 0.02, step: step + 1)
                try b.adamW(p, tensors: counts.indices.map {
                    AdamWTensors(parameter: batched[0][$0], gradient: tg[$0], m: batched[1][$0], v: batched[2][$0])
                }, gradientScale: scale)
                for i in counts.indices {
                    try b.adamW(p, parameter: single[0][i], gradient: tg[i], m: single[1][i], v: single[2][i], gradientScale: scale)
                }
            }
            for (k, name) in ["parameter", "m", "v"].enumerated() {
                for i in counts.indices {
                    XCTAssertEqual(try b.read(batched[k][i]).map(\.bitPattern), try b.read(single[k][i]).map(\.bitPattern),
                                   "\(b.name): \(name) of tensor \(i) (\(counts[i]) elements)")
                }
            }
            XCTAssertNotEqual(try b.read(batched[0][18]), initial[18], "the step must move the parameters")
        }
    }
}
