@testable import ARMMTGPU
import Foundation
import XCTest

/// Runs the built `armmt-gpu` binary (the one `swift build` puts beside the test bundle).
enum CLIRunner {
    static func binary() throws -> String {
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("armmt-gpu").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("the armmt-gpu binary is not built next to the tests")
    }

    /// Runs the binary with `environment` added to this process's environment.
    static func run(_ arguments: [String], cwd: String? = nil,
                    environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = arguments
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// Bad input across the command line: every case is one line on stderr naming what and where,
/// exit 2 for usage errors (paths, flags, config values, devices, inputs this build cannot
/// take) and 1 for runtime errors (bad data, a non-finite loss), never a trap or backtrace.
final class CLIErrorTests: XCTestCase {
    private var dir = ""
    private var data = ""

    override func setUpWithError() throws {
        _ = try CLIRunner.binary()
        dir = try TrainTestSupport.runDirectory("cli-errors")
        data = try TrainTestSupport.dataset().directory
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func write(_ text: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `args` and checks exit status, the single `armmt-gpu: error:` line and its parts.
    @discardableResult
    private func expect(_ status: Int32, _ args: [String], _ parts: [String],
                        file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try CLIRunner.run(args)
        let lines = r.err.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(r.status, status, "\(args): \(r.err)", file: file, line: line)
        XCTAssertEqual(lines.count, 1, "\(args): not one line:\n\(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.hasPrefix("armmt-gpu: error: "), "\(args): \(r.err)", file: file, line: line)
        for bad in ["Fatal error", "backtrace", "Stack dump", "Illegal instruction", "Current stack trace"] {
            XCTAssertFalse(r.err.contains(bad) || r.out.contains(bad), "\(args): \(bad)", file: file, line: line)
        }
        for p in parts {
            XCTAssertTrue(r.err.contains(p), "\(args): '\(p)' missing from: \(r.err)", file: file, line: line)
        }
        return r.err
    }

    private func train(_ extra: [String], out: String = "r") -> [String] {
        ["train", "--data", data, "--out", dir + "/" + out, "--device", "cpu"] + extra
    }

    func testMissingAndUnreadablePaths() throws {
        try expect(2, ["train", "--data", dir + "/nope", "--out", dir + "/r", "--device", "cpu"], ["nope", "no such data set directory"])
        try expect(2, ["data", "check", dir + "/nope"], ["nope", "no such data set directory"])
        try expect(2, train(["--config", dir + "/nope.json"]), ["nope.json", "cannot read the config file"])
        try FileManager.default.createDirectory(atPath: dir + "/conf.json", withIntermediateDirectories: true)
        try expect(2, train(["--config", dir + "/conf.json"]), ["conf.json", "cannot read"])
        try expect(2, ["eval", "--checkpoint", dir + "/none.safetensors", "--data", data, "--device", "cpu"], ["none.safetensors", "no such checkpoint"])
        try expect(2, ["eval", "--checkpoint", dir, "--data", data, "--device", "cpu"], ["is a directory, not a checkpoint file"])
        try expect(2, ["train", "--data", data, "--out", "/proc/armmt-run", "--device", "cpu"], ["/proc/armmt-run", "cannot create the run directory"])
        if getuid() != 0 {
            // Root reads anything, so this case only means something for other users.
            let locked = try write("{}", "locked.json")
            chmod(locked, 0)
            try expect(2, train(["--config", locked]), ["locked.json", "cannot read"])
        }
    }

    func testMalformedConfigsAndUnknownKeys() throws {
        try expect(2, train(["--config", try write("{\n  \"train\": {\"epochs\": 2,, }\n}", "syntax.json")]),
                   ["syntax.json", "not valid JSON", "line 2, column"])
        try expect(2, train(["--config", try write("{\"train\": {", "cut.json")]), ["cut.json", "not valid JSON", "end of file"])
        try expect(2, train(["--config", try write("[1, 2]", "array.json")]), ["array.json", "expected a JSON object"])
        try expect(2, train(["--config", try write(#"{"train": {"epocs": 2}}"#, "k1.json")]), ["unknown key \"train.epocs\""])
        try expect(2, train(["--config", try write(#"{"trian": {}}"#, "k2.json")]), ["k2.json", "unknown key \"trian\""])
        try expect(2, train(["--config", try write(#"{"model": {"kind": "armmt", "widht": 8}}"#, "k3.json")]), ["unknown key \"widht\""])
        try expect(2, train(["--config", try write(#"{"model": {"kind": "nope"}}"#, "k4.json")]), ["model.kind \"nope\""])
        try expect(2, train(["--config", try write(#"{"train": {"epochs": "two"}}"#, "t.json")]), ["train.epochs", "wrong type"])
        try expect(2, train(["--bogus"]), ["Unknown option '--bogus'", "armmt-gpu train --help"])
        try expect(2, ["frobnicate"], ["frobnicate"])
    }

    func testOutOfRangeValues() throws {
        try expect(2, train(["--config", try write(#"{"model": {"kind": "armmt", "width": 10, "heads": 3}}"#, "heads.json")]),
                   ["\"heads\" is 3, must divide width 10"])
        try expect(2, train(["--learning-rate=-0.1"]), ["train.learning_rate must be > 0", "-0.1"])
        try expect(2, train(["--config", try write(#"{"train": {"learning_rate": -1}}"#, "lr.json")]), ["train.learning_rate must be > 0"])
        try expect(2, train(["--learning-rate", "-0.1"]), ["--learning-rate", "--flag=-1"])
        try expect(2, train(["--batch-size", "0"]), ["train.batch_size must be >= 1 (got 0)"])
        try expect(2, train(["--epochs", "0"]), ["train.epochs must be >= 1"])
        try expect(2, train(["--epochs", "x"]), ["'x' is invalid for '--epochs"])
        try expect(2, train(["--config", try write(#"{"train": {"clip_norm": 0}}"#, "clip.json")]), ["train.clip_norm"])
    }

    func testDevicesThatDoNotExist() throws {
        try expect(2, ["train", "--data", data, "--out", dir + "/r", "--device", "opencl:99"], ["opencl:99", "no such OpenCL device"])
        try expect(2, ["selftest", "--device", "gpu"], ["--device 'gpu'", "auto, cpu, opencl, opencl:N"])
        try expect(2, ["bench", "kernels", "--device", "cuda"], ["--device 'cuda'"])
    }

    /// Checkpoints of another schema, another format, a newer version; a newer data set format.
    func testForeignCheckpointsAndNewerFormats() throws {
        let run = dir + "/run"
        let config = try write(#"{"model": {"kind": "linear"}, "train": {"epochs": 1, "batch_size": 40}}"#, "lin.json")
        XCTAssertEqual(try CLIRunner.run(["train", "--data", data, "--config", config, "--out", run, "--device", "cpu"]).status, 0)
        let ck = run + "/last.safetensors"

        let other = try TrainTestSupport.dataset(kMax: 5).directory
        try expect(2, ["eval", "--checkpoint", ck, "--data", other, "--device", "cpu"], ["last.safetensors", "schema does not match", "dims.k_max: 6 vs 5"])
        try expect(2, ["train", "--resume", run, "--data", other, "--device", "cpu"], ["schema does not match", "dims.k_max"])

        // A safetensors file that is not a checkpoint is bad content: exit 1.
        let split = data + "/" + (try XCTUnwrap(try Dataset(directory: data).schema.splits.first?.files.first))
        try expect(1, ["eval", "--checkpoint", split, "--data", data, "--device", "cpu"], ["not an armmt-gpu checkpoint"])

        // The same checkpoint with format_version 9 (same length, so the header stays valid).
        var bytes = try TrainTestSupport.fileBytes(ck)
        let needle = Array(#""format_version":"2""#.utf8)
        let at = try XCTUnwrap((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[at + needle.count - 2] = UInt8(ascii: "9")
        let newer = dir + "/newer.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: newer))
        try expect(2, ["eval", "--checkpoint", newer, "--data", data, "--device", "cpu"], ["format_version 9 is newer", "upgrade"])

        let copy = dir + "/data-v2"
        try FileManager.default.copyItem(atPath: data, toPath: copy)
        var schema = try String(contentsOfFile: copy + "/schema.json", encoding: .utf8)
        schema = schema.replacingOccurrences(of: #""format_version" : 1"#, with: #""format_version" : 2"#)
        try schema.write(toFile: copy + "/schema.json", atomically: true, encoding: .utf8)
        try expect(2, ["data", "check", copy], ["schema.json", "format_version 2 is newer", "upgrade"])
        try expect(2, ["train", "--data", copy, "--out", dir + "/r2", "--device", "cpu"], ["format_version 2 is newer"])
    }

    /// Bad data found while running is a runtime error (exit 1), named by file and tensor.
    func testCorruptDataIsARuntimeError() throws {
        let copy = dir + "/data-bad"
        try FileManager.default.copyItem(atPath: data, toPath: copy)
        let shard = copy + "/" + (try XCTUnwrap(try Dataset(directory: copy).schema.splits.first?.files.first))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: shard))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 3)
        try handle.close()
        try expect(1, ["data", "check", copy], [URL(fileURLWithPath: shard).lastPathComponent, "truncated"])
        try expect(1, ["train", "--data", copy, "--out", dir + "/r3", "--device", "cpu"], ["truncated"])
    }

    /// Weights that overflow stop training: exit 1, the step and the first non-finite tensor
    /// named (a NaN loss names the gradient; an Inf weight with a still finite loss is caught
    /// before the checkpoint it would spoil), `last` left at an earlier step with finite weights.
    func testNonFiniteTrainingExitsOneAndKeepsLast() throws {
        let run = dir + "/nan"
        let config = try write(#"{"model": {"kind": "linear"}, "train": {"epochs": 3, "batch_size": 16, "checkpoint_every": 2, "weight_decay": 0.5}}"#, "nan.json")
        // lr·wd = 5e11: from step 2 on each update multiplies the weights by about -5e11 until they overflow.
        let err = try expect(1, ["train", "--data", data, "--config", config, "--out", run, "--device", "cpu", "--learning-rate", "1e12"],
                             ["step ", "linear.", "left as it was"])
        XCTAssertTrue(err.contains("first non-finite tensor: linear.") || err.contains("is not finite (element"), err)
        let step = try XCTUnwrap(Int(err.components(separatedBy: "step ")[1].prefix { $0.isNumber }))
        let ck = try Checkpoint.open(run + "/last.safetensors")
        XCTAssertLessThan(ck.state.step, step, err)
        let f = try SafeTensorsFile(path: run + "/last.safetensors")
        for n in f.names { XCTAssertTrue(try f.floats(n).allSatisfy(\.isFinite), n) }
    }

    /// The OpenCL tuning variables: a bad value is a usage error naming the variable; the GEMM's
    /// good ones show in `bench kernels`' header, which GPU-box logs are read from.
    func testOpenCLVariablesRefuseBadValuesAndShowInTheBench() throws {
        guard !OpenCLInventory.shared.devices.isEmpty else { throw XCTSkip("no OpenCL device") }
        for (name, value, part) in [("ARMMT_OPENCL_GEMM_SPLIT", "many", "not a count of compute units"),
                                    ("ARMMT_OPENCL_ITEM_VECTORS_MIB", "half", "not a size in MiB"),
                                    ("ARMMT_OPENCL_STAGED_WRITES", "yes", "not 0 (blocking writes) or 1"),
                                    ("ARMMT_OPENCL_GEMM", "64x64x16/4x4/1/0/4", "VW = 4 does not divide PAD = 1")] {
            let r = try CLIRunner.run(["selftest", "--device", "opencl", "--quick", "--op", "gemm"], environment: [name: value])
            XCTAssertEqual(r.status, 2, r.err)
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.hasPrefix("armmt-gpu: error: \(name)=\"\(value)\": ") && r.err.contains(part), r.err)
        }
        let r = try CLIRunner.run(["bench", "kernels", "--device", "opencl", "--op", "gemm", "--no-large"],
                                  environment: ["ARMMT_OPENCL_GEMM_SPLIT": "0", "ARMMT_OPENCL_GEMM": "32x32x8/4x4/4/1/4"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("OpenCL GEMM tiling: 32x32x8/4x4/4/1/4 (ARMMT_OPENCL_GEMM sets it)"), r.out)
        XCTAssertTrue(r.out.contains("OpenCL GEMM split over k: off (ARMMT_OPENCL_GEMM_SPLIT sets it)"), r.out)
        XCTAssertTrue(r.out.contains("list d×d dW TN m=64 n=64 k=8192"), r.out)
    }
}
