@testable import ARMMTGPU
import Foundation
import XCTest

/// Seeded mutation fuzzing of the readers that take files from users: safetensors (data sets and
/// checkpoints), schema.json, and SVMlight/LETOR text. Every mutated input must either load
/// (and then be fully readable) or be refused with an `EngineError`: no trap, no other error
/// type, no hang.
///
/// CI runs `ARMMT_FUZZ_ITERATIONS` (default 400) inputs per target, a few seconds in all; set it
/// higher for a long run (`ARMMT_FUZZ_ITERATIONS=100000 swift test --filter ReaderFuzzTests`)
/// and `ARMMT_FUZZ_SEED` to explore other inputs. Before each input is read it is written to
/// `$TMPDIR/armmt-fuzz-<target>.last`, so a crash leaves the input that caused it behind: commit
/// it under Tests/TrainTests/FuzzRegressions/<target>/ and `testRegressionInputs` replays it.
final class ReaderFuzzTests: XCTestCase {
    static var iterations: Int { ProcessInfo.processInfo.environment["ARMMT_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 400 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["ARMMT_FUZZ_SEED"].flatMap(UInt64.init) ?? 20261121 }
    /// Longest one input may take to read; a parser loop that does not end shows up as a slow input.
    static let slowInputSeconds = 2.0

    private var dir = ""

    override func setUpWithError() throws {
        dir = try DataTestSupport.temporaryDirectory("fuzz")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: targets

    /// Opens `path` as safetensors and reads every tensor (raw bytes and, for float dtypes, floats).
    static func readSafeTensors(_ path: String) throws {
        let f = try SafeTensorsFile(path: path)
        for n in f.names {
            _ = try f.rawBytes(n)
            if let info = f.info(n), [.F32, .F16, .BF16].contains(info.dtype) { _ = try f.floats(n) }
        }
        _ = f.metadata
    }

    /// Opens a data set directory (every load-time check) and reads every request of every split.
    static func readDataset(_ directory: String) throws {
        let ds = try Dataset(directory: directory)
        for s in ds.schema.splits {
            let split = try ds.split(s.name)
            var b = split.emptyBatch()
            var r = 0
            while r < split.count {
                try split.fill(&b, requests: Array(r..<min(split.count, r + 4)))
                r += 4
            }
        }
    }

    /// Opens a checkpoint (format, metadata, config) and restores it into a fresh linear model.
    static func readCheckpoint(_ path: String, dataset: Dataset) throws {
        let ck = try Checkpoint.open(path)
        _ = try ck.loadModel(for: dataset, backend: CPUBackend(), maxBatch: 4)
    }

    // MARK: the loop

    /// Feeds `iterations` mutations of `seeds` (chosen round-robin) through `read`, which gets
    /// the path of a file holding the input. Returns (loaded, refused) counts.
    @discardableResult
    private func fuzz(_ target: String, seeds: [[UInt8]], file: String, iterations: Int = ReaderFuzzTests.iterations,
                      _ read: (String) throws -> Void) throws -> (loaded: Int, refused: Int) {
        var rng = SeededRandom(seed: Self.seed ^ Self.stableHash(target))
        let last = NSTemporaryDirectory() + "/armmt-fuzz-\(target).last"
        var loaded = 0, refused = 0
        var messages = Set<String>()
        for i in 0..<iterations {
            let input = Mutator.mutate(seeds[i % seeds.count], others: seeds, &rng)
            try Data(input).write(to: URL(fileURLWithPath: last))
            try Data(input).write(to: URL(fileURLWithPath: file))
            let start = Date()
            do {
                try read(file)
                loaded += 1
            } catch let e as EngineError {
                refused += 1
                XCTAssertFalse(e.message.isEmpty, "\(target) #\(i): empty message")
                XCTAssertFalse(e.message.contains("\n"), "\(target) #\(i): not one line: \(e.message)")
                messages.insert(String(e.message.prefix(60)))
            } catch {
                XCTFail("\(target) #\(i): \(type(of: error)) instead of an EngineError: \(error) (input kept at \(last))")
                return (loaded, refused)
            }
            let took = Date().timeIntervalSince(start)
            XCTAssertLessThan(took, Self.slowInputSeconds, "\(target) #\(i): \(took) s for \(input.count) bytes (input kept at \(last))")
        }
        try? FileManager.default.removeItem(atPath: last)
        // Mutations that all die at the same first check would test nothing beyond it.
        XCTAssertGreaterThanOrEqual(messages.count, min(5, iterations / 20), "\(target): refusals are all alike: \(messages.sorted().prefix(3))")
        print("fuzz \(target): \(iterations) inputs, \(loaded) loaded, \(refused) refused with \(messages.count) distinct messages, e.g. \(messages.sorted().prefix(3))")
        return (loaded, refused)
    }

    static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    // MARK: tests

    func testSafeTensorsReaderSurvivesMutations() throws {
        let a = dir + "/a.safetensors", b = dir + "/b.safetensors"
        try SafeTensorsWriter.write(path: a, tensors: DataTestSupport.tinyItemBlobs())
        try SafeTensorsWriter.write(path: b, tensors: DataTestSupport.tinyTrainBlobs(requests: 3))
        let seeds = [try TrainTestSupport.fileBytes(a), try TrainTestSupport.fileBytes(b)]
        let r = try fuzz("safetensors", seeds: seeds, file: dir + "/x.safetensors", Self.readSafeTensors)
        XCTAssertGreaterThan(r.refused, 0, "the mutations never broke a file: the fuzzer is not fuzzing")
    }

    /// Mutated item tables and split files inside a data set: the loader's shape, index, vocabulary
    /// and finiteness checks run on top of the container's.
    func testDatasetLoaderSurvivesMutatedTensorFiles() throws {
        try DataTestSupport.writeTinyDataset(dir)
        try Self.readDataset(dir)
        let items = try TrainTestSupport.fileBytes(dir + "/items.safetensors")
        let train = try TrainTestSupport.fileBytes(dir + "/train.safetensors")
        let n = max(1, Self.iterations / 2)
        try fuzz("dataset-items", seeds: [items], file: dir + "/items.safetensors", iterations: n) { _ in try Self.readDataset(dir) }
        try Data(items).write(to: URL(fileURLWithPath: dir + "/items.safetensors"))
        try fuzz("dataset-train", seeds: [train], file: dir + "/train.safetensors", iterations: n) { _ in try Self.readDataset(dir) }
    }

    func testSchemaReaderSurvivesMutations() throws {
        try DataTestSupport.writeTinyDataset(dir)
        let schema = try TrainTestSupport.fileBytes(dir + "/schema.json")
        var compact = DataTestSupport.tinySchema()
        compact.listFeatureNormalization = FeatureNormalization(mean: [0.5], std: [2])
        let other = Array(try compact.encoded())
        let r = try fuzz("schema", seeds: [schema, other], file: dir + "/schema.json") { _ in try Self.readDataset(dir) }
        XCTAssertGreaterThan(r.refused, 0)
    }

    func testLETORReaderSurvivesMutations() throws {
        let text = """
        2 qid:1 1:0.5 3:-1.25 7:3 # first
        0 qid:1 2:1e-3 3:0
        1 qid:1 1:2 5:0.125
        0 qid:7 1:1 2:2 3:3 4:4
        4 qid:7 6:-0.5

        1 qid:9 2:0.75

        """
        let seeds = [Array(text.utf8), Array("1 1:1 2:2\n0 3:0.5\n2 1:-1\n".utf8)]
        let query = dir + "/x.query"
        try Data("3\n2\n".utf8).write(to: URL(fileURLWithPath: query))
        let out = dir + "/imported"
        let r = try fuzz("letor", seeds: seeds, file: dir + "/x.txt") { path in
            _ = try LETORFile(path: path, queryPath: nil)
            try? FileManager.default.removeItem(atPath: out)
            try LETORImporter.importFiles(train: [.init(path: path)], into: out)
            try Self.readDataset(out)
        }
        XCTAssertGreaterThan(r.loaded, 0, "no mutated LETOR file imported: the seeds are not valid")
        XCTAssertGreaterThan(r.refused, 0)
        // The group-size file is read by the same parser: fuzz it against a fixed data file.
        try Data(seeds[1]).write(to: URL(fileURLWithPath: dir + "/fixed.txt"))
        try fuzz("letor-query", seeds: [Array("2\n1\n".utf8)], file: query, iterations: max(1, Self.iterations / 4)) { q in
            _ = try LETORFile(path: dir + "/fixed.txt", queryPath: q)
        }
    }

    func testCheckpointReaderSurvivesMutations() throws {
        let data = try TrainTestSupport.dataset()
        let run = dir + "/run"
        var config = TrainTestSupport.config(epochs: 1, batchSize: 60)
        config.train.evalEvery = nil
        try TrainTestSupport.trainer(config, data, run).run()
        let seed = try TrainTestSupport.fileBytes(run + "/last.safetensors")
        try fuzz("checkpoint", seeds: [seed], file: dir + "/ck.safetensors", iterations: max(1, Self.iterations / 2)) {
            try Self.readCheckpoint($0, dataset: data)
        }
    }

    /// Found by the fuzzer: "\r\n" is one Swift Character, so files with Windows line endings
    /// were read as one line and their errors spanned lines. They now read like "\n" files.
    func testCRLFFilesReadLikeLFFiles() throws {
        let lf = "2 qid:1 1:0.5 3:-1\n0 qid:1 2:1\n1 qid:2 1:2\n", query = "2\n1\n"
        let a = dir + "/lf.txt", b = dir + "/crlf.txt", qa = dir + "/lf.query", qb = dir + "/crlf.query"
        try Data(lf.utf8).write(to: URL(fileURLWithPath: a))
        try Data(lf.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: URL(fileURLWithPath: b))
        try Data(query.utf8).write(to: URL(fileURLWithPath: qa))
        try Data(query.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: URL(fileURLWithPath: qb))
        for (x, y) in [(try LETORFile(path: a, queryPath: nil), try LETORFile(path: b, queryPath: nil)),
                       (try LETORFile(path: a, queryPath: qa), try LETORFile(path: b, queryPath: qb))] {
            XCTAssertEqual(x.labels, y.labels)
            XCTAssertEqual(x.groups, y.groups)
            XCTAssertEqual(x.featureIndex, y.featureIndex)
            XCTAssertEqual(x.featureValue, y.featureValue)
        }
        try Data("2\r\nx\r\n".utf8).write(to: URL(fileURLWithPath: qb))
        DataTestSupport.expectError(["line 2", "'x' is not a group size"]) { _ = try LETORFile(path: b, queryPath: qb) }
    }

    /// Inputs that once crashed or hung a reader, replayed on every run. letor-query/
    /// overflow.query: group sizes whose sum overflowed Int (an arithmetic-overflow trap).
    func testRegressionInputs() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzRegressions").path
        guard let targets = try? FileManager.default.contentsOfDirectory(atPath: root) else { return }
        for target in targets {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + target)) ?? [] {
                let input = try TrainTestSupport.fileBytes(root + "/" + target + "/" + name)
                let file = dir + "/regression-" + name
                try Data(input).write(to: URL(fileURLWithPath: file))
                do {
                    switch target {
                    case "safetensors": try Self.readSafeTensors(file)
                    case "letor": _ = try LETORFile(path: file, queryPath: nil)
                    case "letor-query":
                        try Data("1 1:1 2:2\n0 3:0.5\n2 1:-1\n".utf8).write(to: URL(fileURLWithPath: dir + "/fixed.txt"))
                        _ = try LETORFile(path: dir + "/fixed.txt", queryPath: file)
                    default: XCTFail("unknown regression target \(target)")
                    }
                } catch is EngineError {}
            }
        }
    }
}

/// Byte-level mutations in the style of AFL's havoc stage, plus a few that know the formats:
/// numbers in text replaced by extreme ones, and the 8-byte safetensors length prefix rewritten.
enum Mutator {
    static let interesting: [String] = ["0", "-1", "1", "255", "65536", "2147483647", "-2147483648", "4294967296",
                                        "9223372036854775807", "18446744073709551616", "1e308", "-0", "NaN", "inf",
                                        "1e-45", "null", "\"\"", "[]", "{}", "true"]

    static func mutate(_ seed: [UInt8], others: [[UInt8]], _ rng: inout SeededRandom) -> [UInt8] {
        var b = seed
        let rounds = 1 + rng.index(4)
        for _ in 0..<rounds {
            if b.isEmpty { b = [UInt8(rng.index(256))]; continue }
            switch rng.index(12) {
            case 0: // flip a bit
                let i = rng.index(b.count)
                b[i] ^= UInt8(1 << rng.index(8))
            case 1: // random byte
                b[rng.index(b.count)] = UInt8(rng.index(256))
            case 2: // interesting byte
                b[rng.index(b.count)] = [0, 0xFF, 0x7F, 0x80, 0x22, 0x2C, 0x3A, 0x5B, 0x5D, 0x7B, 0x7D, 0x0A][rng.index(12)]
            case 3: // delete a range
                let i = rng.index(b.count), n = min(b.count - i, 1 + rng.index(16))
                b.removeSubrange(i..<(i + n))
            case 4: // duplicate a range
                let i = rng.index(b.count), n = min(b.count - i, 1 + rng.index(32))
                b.insert(contentsOf: b[i..<(i + n)], at: rng.index(b.count + 1))
            case 5: // truncate
                b = Array(b.prefix(rng.index(b.count + 1)))
            case 6: // a number in the text replaced by an extreme one
                let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
                guard let d = digits.isEmpty ? nil : digits[rng.index(digits.count)] else { continue }
                var e = d
                while e < b.count, (b[e] >= 0x30 && b[e] <= 0x39) || b[e] == 0x2E || b[e] == 0x65 || b[e] == 0x2D { e += 1 }
                b.replaceSubrange(d..<e, with: Array(interesting[rng.index(interesting.count)].utf8))
            case 7: // header length prefix rewritten (safetensors)
                guard b.count >= 8 else { continue }
                let current = b[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                let choices: [UInt64] = [0, 1, 7, current &- 1, current &+ 1, UInt64(b.count), UInt64(b.count - 8), UInt64.max, 1 << 40]
                let v = choices[rng.index(choices.count)]
                for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            case 8: // splice with another seed
                let o = others[rng.index(others.count)]
                guard !o.isEmpty else { continue }
                let cut = rng.index(b.count), from = rng.index(o.count)
                b = Array(b.prefix(cut)) + Array(o[from...])
            case 9: // overwrite with a copy of another place
                let n = 1 + rng.index(min(8, b.count))
                let src = rng.index(b.count - n + 1), dst = rng.index(b.count - n + 1)
                let chunk = Array(b[src..<(src + n)])
                b.replaceSubrange(dst..<(dst + n), with: chunk)
            case 10: // insert random bytes
                let n = 1 + rng.index(8)
                b.insert(contentsOf: (0..<n).map { _ in UInt8(rng.index(256)) }, at: rng.index(b.count + 1))
            default: // swap two bytes
                let i = rng.index(b.count), j = rng.index(b.count)
                b.swapAt(i, j)
            }
        }
        return b
    }
}
