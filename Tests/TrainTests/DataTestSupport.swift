import ARMMTGPU
import Foundation
import XCTest

/// Helpers shared by the data tests: temporary directories, python3 runs, small data sets.
enum DataTestSupport {
    static func temporaryDirectory(_ tag: String) throws -> String {
        let dir = NSTemporaryDirectory() + "armmt-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Runs python3 (found on PATH, or $ARMMT_PYTHON) with `arguments`; nil when there is none.
    @discardableResult
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String)? {
        let env = ProcessInfo.processInfo.environment
        let name = env["ARMMT_PYTHON"] ?? "python3"
        let dirs = (env["PATH"] ?? "/usr/bin:/usr/local/bin").split(separator: ":").map(String.init)
        guard let exe = name.hasPrefix("/") ? name : dirs.map({ $0 + "/" + name }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Skips the test unless python3 can import numpy and safetensors.
    static func requirePythonWithSafetensors() throws {
        guard let r = try python(["-c", "import numpy, safetensors.numpy"]), r.status == 0 else {
            throw XCTSkip("python3 with numpy and safetensors is not available")
        }
    }

    static let tinyItems = 10, tinyKMax = 4, tinyLMax = 3

    /// The item table of the tiny data set, tensor by tensor (tests replace one to break it).
    static func tinyItemBlobs() -> [SafeTensorBlob] {
        let items = tinyItems
        var rng = SeededRandom(seed: 5)
        return [
            SafeTensorBlob("text", .F32, [items, 3], rng.floats(items * 3)),
            SafeTensorBlob.half("image", [items, 2], rng.floats(items * 2)),
            SafeTensorBlob("has_image", .U8, [items], (0..<items).map { UInt8($0 == 3 ? 0 : 1) }),
            SafeTensorBlob("categorical", .I64, [items, 1], (0..<items).map { Int64($0 % 4) }),
            SafeTensorBlob("dense", .F32, [items, 1], rng.floats(items)),
        ]
    }

    /// The train split of the tiny data set: `requests` lists of 1...4 candidates.
    static func tinyTrainBlobs(requests: Int = 6) -> [SafeTensorBlob] {
        let items = tinyItems, kMax = tinyKMax, lMax = tinyLMax
        var rng = SeededRandom(seed: 6)
        var cand = [Int32](), beh = [Int32](), labels = [Float](), lf = [Float]()
        for r in 0..<requests {
            let n = 1 + r % kMax
            for j in 0..<kMax { cand.append(j < n ? Int32((r + j * 3) % items) : -1) }
            let nb = r % (lMax + 1)
            for j in 0..<lMax { beh.append(j < nb ? Int32((r * 7 + j) % items) : -1) }
            for j in 0..<kMax {
                labels.append(j < n && (r + j) % 3 == 0 ? 1 : 0)
                labels.append(j < n && (r + j) % 6 == 0 ? 2 : 0)
                lf.append(j < n ? Float(j) : 0)
            }
        }
        return [
            SafeTensorBlob("candidates", .I32, [requests, kMax], cand),
            SafeTensorBlob("behaviours", .I32, [requests, lMax], beh),
            SafeTensorBlob("list_features", .F32, [requests, kMax, 1], lf),
            SafeTensorBlob("labels", .F32, [requests, kMax, 2], labels),
            SafeTensorBlob("query", .F32, [requests, 2], rng.floats(requests * 2)),
            SafeTensorBlob("user", .I32, [requests, 1], (0..<requests).map { Int32($0 % 3) }),
            SafeTensorBlob("oracle", .F32, [requests, kMax, 2], (0..<requests * kMax * 2).map { Float($0 % 10) / 10 }),
        ]
    }

    static func tinySchema() -> DatasetSchema {
        DatasetSchema(
            dims: DatasetDims(text: 3, image: 2, query: 2, kMax: tinyKMax, lMax: tinyLMax), items: tinyItems,
            itemCategorical: [CategoricalField("category", vocab: 4)], itemDense: ["price"],
            userFeatures: [CategoricalField("segment", vocab: 3)], listFeatures: ["position"],
            targets: ["click", "purchase"], mainTarget: "purchase",
            splits: [SplitEntry(name: "train", files: ["train.safetensors"])])
    }

    /// Writes the tiny data set, with `items`/`train`/`schema` replacing the valid defaults.
    static func writeTinyDataset(_ dir: String, items: [SafeTensorBlob]? = nil, train: [SafeTensorBlob]? = nil,
                                 schema: DatasetSchema? = nil) throws {
        try SafeTensorsWriter.write(path: dir + "/items.safetensors", tensors: items ?? tinyItemBlobs())
        try SafeTensorsWriter.write(path: dir + "/train.safetensors", tensors: train ?? tinyTrainBlobs())
        try (schema ?? tinySchema()).write(to: dir)
    }

    /// `blobs` with tensor `name` replaced (or removed when `with` is nil).
    static func replacing(_ blobs: [SafeTensorBlob], _ name: String, with blob: SafeTensorBlob?) -> [SafeTensorBlob] {
        var out = blobs.filter { $0.spec.name != name }
        if let blob { out.append(blob) }
        return out
    }

    /// Expects `body` to throw an EngineError whose message contains every string in `parts`.
    static func expectError(_ parts: [String], kind: EngineError.Kind = .runtime,
                            file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error mentioning \(parts)", file: file, line: line)
        } catch let e as EngineError {
            XCTAssertEqual(e.kind, kind, "\(e.message)", file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), "error is not one line: \(e.message)", file: file, line: line)
            for p in parts {
                XCTAssertTrue(e.message.contains(p), "'\(e.message)' does not mention '\(p)'", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }
}
