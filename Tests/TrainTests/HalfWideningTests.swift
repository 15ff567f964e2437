import ARMMTGPU
import Foundation
import XCTest

/// `TensorView.copyFloats` widens float16 eight at a time through the hardware conversion;
/// it must give exactly `halfToFloat`'s value for every one of the 65,536 bit patterns, at
/// every start offset (unaligned rows) and for the scalar tail.
final class HalfWideningTests: XCTestCase {
    func testEveryHalfWidensExactlyAtEveryAlignment() throws {
        let dir = NSTemporaryDirectory() + "armmt-half-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/all.safetensors"
        let all = (0...UInt16.max).map { $0 }
        try SafeTensorsWriter.write(path: path, tensors: [SafeTensorBlob("h", .F16, [all.count], all)])
        let view = try SafeTensorsFile(path: path).view("h")
        for start in 0..<3 {
            let count = all.count - start - 5  // leaves a tail shorter than 8
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { view.copyFloats(from: start, count: count, into: $0.baseAddress!) }
            for j in 0..<count {
                let want = halfToFloat(all[start + j])
                if want.isNaN {
                    XCTAssertTrue(out[j].isNaN, "bits \(all[start + j]): \(out[j]) is not NaN")
                } else if out[j].bitPattern != want.bitPattern {
                    XCTFail("bits 0x\(String(all[start + j], radix: 16)): widened to \(out[j]), want \(want)")
                    return
                }
            }
        }
    }
}
