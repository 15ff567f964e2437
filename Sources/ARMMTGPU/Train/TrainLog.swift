import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a step stands, for progress displays.
public struct TrainProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var epochs: Int
    /// Mean loss over the steps since the last report.
    public var loss: Float
    public var learningRate: Double
    public var requestsPerSecond: Double
    /// Seconds left at the current pace.
    public var eta: Double
    /// `train.log_every`: how often a plain (non-terminal) display prints a line.
    public var reportEvery: Int
}

/// What the trainer tells a person: progress every step, messages (evaluations, notes).
public protocol TrainLog: AnyObject {
    func progress(_ p: TrainProgress)
    func message(_ line: String)
    func finish()
}

/// Says nothing; keeps the messages (tests read them).
public final class SilentTrainLog: TrainLog {
    public private(set) var messages: [String] = []
    public init() {}
    public func progress(_ p: TrainProgress) {}
    public func message(_ line: String) { messages.append(line) }
    public func finish() {}
}

/// A progress bar on a terminal (stderr, redrawn at most 10 times a second), plain lines every
/// `train.log_every` steps otherwise; messages go to stdout.
public final class ConsoleTrainLog: TrainLog {
    public let isTerminal: Bool
    private var lastDraw = 0.0
    private var barShown = false

    public init(isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.isTerminal = isTerminal
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }

    public func progress(_ p: TrainProgress) {
        let stats = String(format: "loss %.4f  lr %.2e  %.0f req/s  ETA %@", p.loss, p.learningRate, p.requestsPerSecond, Self.duration(p.eta))
        if isTerminal {
            let now = Date().timeIntervalSince1970
            if now - lastDraw < 0.1 && p.step != p.totalSteps { return }
            lastDraw = now
            let width = 24
            let filled = p.totalSteps > 0 ? min(width, width * p.step / p.totalSteps) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "\r\u{1B}[2Kepoch \(p.epoch + 1)/\(p.epochs) [\(bar)] step \(p.step)/\(p.totalSteps)  " + stats
            FileHandle.standardError.write(Data(line.utf8))
            barShown = true
        } else if p.step % max(1, p.reportEvery) == 0 || p.step == p.totalSteps {
            print("step \(p.step)/\(p.totalSteps) epoch \(p.epoch + 1)/\(p.epochs)  " + stats)
            fflush(stdout)
        }
    }

    public func message(_ line: String) {
        clearBar()
        print(line)
        fflush(stdout)
    }

    public func finish() { clearBar() }

    private func clearBar() {
        if barShown {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
            barShown = false
        }
    }
}

/// `RUN_DIR/metrics.jsonl`: one JSON object a line, appended (sorted keys).
public final class MetricsLog {
    public let path: String

    public init(path: String) { self.path = path }

    public func append(_ object: [String: Any]) throws {
        var data = try ConfigJSON.canonical(object)
        data.append(0x0A)
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: data) else {
                throw EngineError.runtime("\(path): cannot create the metrics log")
            }
            return
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw EngineError.runtime("\(path): cannot open the metrics log") }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: data)
    }

    /// Drops lines from steps after `step` (written after the checkpoint a run resumes from,
    /// which the resumed run writes again).
    public func truncate(afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = o["step"] as? Int else { return false }
            return s <= step
        }
        try AtomicFileWriter.write(Array(kept.map { $0 + "\n" }.joined().utf8), to: path)
    }

    /// Every line as an object (tests and tools).
    public func read() throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            try ConfigJSON.object(Data($0.utf8), what: path)
        }
    }
}
