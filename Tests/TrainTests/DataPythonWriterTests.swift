import ARMMTGPU
import Foundation
import XCTest

/// The data set written by scripts/write_example_dataset.py (the docs/DATA.md example) loads,
/// and what the engine reads equals what an independent reader (safetensors.numpy) sees.
final class DataPythonWriterTests: XCTestCase {
    func testPythonWrittenDatasetLoadsAndMatches() throws {
        try DataTestSupport.requirePythonWithSafetensors()
        let dir = try DataTestSupport.temporaryDirectory("pywriter")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = DataTestSupport.repositoryRoot + "/scripts/write_example_dataset.py"
        let w = try XCTUnwrap(try DataTestSupport.python([script, dir, "--seed", "3"]))
        XCTAssertEqual(w.status, 0, w.output)

        // Independent reading: numpy values as JSON (all float32 after widening).
        let dump = """
        import json, sys, numpy as np
        from safetensors.numpy import load_file
        d = sys.argv[1]
        out = {}
        for f in ["items", "train", "valid"]:
            for k, v in load_file(d + "/" + f + ".safetensors").items():
                out[f + "/" + k] = v.astype(np.float64).ravel().tolist()
        print(json.dumps(out))
        """
        let r = try XCTUnwrap(try DataTestSupport.python(["-c", dump, dir]))
        XCTAssertEqual(r.status, 0, r.output)
        // Compared as Float: every value is a float32 (or smaller) printed exactly by Python.
        let refDouble = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: [Double]])
        let ref = refDouble.mapValues { $0.map { Float($0) } }

        let ds = try Dataset(directory: dir)
        XCTAssertEqual(ds.schema.dims, DatasetDims(text: 8, image: 6, query: 4, kMax: 5, lMax: 3))
        XCTAssertEqual(ds.splits.map(\.name), ["train", "valid"])
        XCTAssertEqual(ds.splits.map(\.count), [40, 10])

        // Item table through the gather functions, in a shuffled order with padding.
        let order: [Int32] = [7, -1, 0, 49, 13, 13]
        let text = ds.items.gatherText(order), image = ds.items.gatherImage(order)
        let cat = ds.items.gatherCategorical(order), dense = ds.items.gatherDense(order)
        for (r, item) in order.enumerated() {
            for c in 0..<8 { XCTAssertEqual(Float(text[r * 8 + c]), item < 0 ? 0 : ref["items/text"]![Int(item) * 8 + c]) }
            for c in 0..<6 { XCTAssertEqual(Float(image[r * 6 + c]), item < 0 ? 0 : ref["items/image"]![Int(item) * 6 + c]) }
            for c in 0..<2 { XCTAssertEqual(Float(cat[r * 2 + c]), item < 0 ? 0 : ref["items/categorical"]![Int(item) * 2 + c]) }
            for c in 0..<2 { XCTAssertEqual(Float(dense[r * 2 + c]), item < 0 ? 0 : ref["items/dense"]![Int(item) * 2 + c]) }
            if item >= 0 { XCTAssertEqual(Float(ds.items.hasImage[Int(item)]), ref["items/has_image"]![Int(item)]) }
        }

        // Every request of both splits, assembled in reverse order.
        for (name, n) in [("train", 40), ("valid", 10)] {
            let split = try ds.split(name)
            let requests = Array((0..<n).reversed())
            let b = try split.batch(requests)
            XCTAssertEqual(b.size, n)
            for (i, r) in requests.enumerated() {
                for j in 0..<5 {
                    let c = ref["\(name)/candidates"]![r * 5 + j]
                    XCTAssertEqual(Float(b.candidates[i * 5 + j]), c)
                    XCTAssertEqual(b.candidateMask[i * 5 + j], c >= 0 ? 1 : 0)
                    for t in 0..<2 {
                        XCTAssertEqual(Float(b.labels[(i * 5 + j) * 2 + t]), ref["\(name)/labels"]![(r * 5 + j) * 2 + t])
                        XCTAssertEqual(Float(b.listFeatures[(i * 5 + j) * 2 + t]), ref["\(name)/list_features"]![(r * 5 + j) * 2 + t])
                    }
                }
                for j in 0..<3 {
                    let e = ref["\(name)/behaviours"]![r * 3 + j]
                    XCTAssertEqual(Float(b.behaviours[i * 3 + j]), e)
                    XCTAssertEqual(b.behaviourMask[i * 3 + j], e >= 0 ? 1 : 0)
                }
                for c in 0..<4 { XCTAssertEqual(Float(b.query[i * 4 + c]), ref["\(name)/query"]![r * 4 + c]) }
                XCTAssertEqual(Float(b.users[i]), ref["\(name)/user"]![r])
                XCTAssertEqual(Float(b.requestIDs![i]), ref["\(name)/request_id"]![r])
            }
            XCTAssertNil(b.oracle)
        }
    }

    /// The reverse direction (checkpoints will rely on it): the reference reader loads what
    /// the Swift writer wrote, values, dtypes and metadata alike.
    func testSwiftWrittenFileReadsInPython() throws {
        try DataTestSupport.requirePythonWithSafetensors()
        let dir = try DataTestSupport.temporaryDirectory("swiftwriter")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/w.safetensors"
        try SafeTensorsWriter.write(path: path, tensors: [
            SafeTensorBlob("layer.0.weight", .F32, [2, 3], [Float(1.5), -2, 0.25, 3, 4, -0.125]),
            SafeTensorBlob.half("h", [3], [Float(0.5), -1, 65504]),
            SafeTensorBlob("ids", .I64, [2], [Int64(-1), 1 << 40]),
            SafeTensorBlob("flags", .U8, [1, 1, 3], [UInt8(0), 1, 1]),
        ], metadata: ["step": "12", "note": "a \"quoted\" value"])
        let read = """
        import json, sys
        from safetensors import safe_open
        with safe_open(sys.argv[1], "np") as f:
            out = {k: [str(f.get_tensor(k).dtype), list(f.get_tensor(k).shape), f.get_tensor(k).ravel().tolist()] for k in f.keys()}
            out["__metadata__"] = f.metadata()
        print(json.dumps(out, sort_keys=True))
        """
        let r = try XCTUnwrap(try DataTestSupport.python(["-c", read, path]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output.trimmingCharacters(in: .whitespacesAndNewlines),
                       #"{"__metadata__": {"note": "a \"quoted\" value", "step": "12"}, "flags": ["uint8", [1, 1, 3], [0, 1, 1]], "h": ["float16", [3], [0.5, -1.0, 65504.0]], "ids": ["int64", [2], [-1, 1099511627776]], "layer.0.weight": ["float32", [2, 3], [1.5, -2.0, 0.25, 3.0, 4.0, -0.125]]}"#)
        // And the Swift reader agrees.
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.metadata, ["step": "12", "note": "a \"quoted\" value"])
        XCTAssertEqual(try f.floats("h"), [0.5, -1, 65504])
        XCTAssertEqual(f.info("ids")?.dtype, .I64)
    }
}
