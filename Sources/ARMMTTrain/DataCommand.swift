import ARMMTGPU
import ArgumentParser
import Foundation

/// `armmt-gpu data`: check, generate and import data sets (docs/DATA.md). Logic lives in the
/// library (Dataset, SynthGenerator, LETORImporter); this only parses flags and prints.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Check, generate (synth), probe the synthetic oracle, and import (LETOR) data sets.",
        subcommands: [DataCheckCommand.self, DataSynthCommand.self, DataOracleProbeCommand.self, DataImportLETORCommand.self])
}

struct DataCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a data set directory completely; exit 1 with one line naming file, tensor and row on the first problem.")

    @Argument(help: "The data set directory (holds schema.json).")
    var directory: String

    @Flag(name: .long, help: "Print a summary object (counts per split, dims, label rates, oracle metrics).")
    var json = false

    func run() throws {
        let summary = try DatasetSummary(Dataset(directory: directory))
        print(json ? try summary.json() : summary.text())
    }
}

/// The flags that define a synthetic world and its splits, shared by `synth` and `oracle-probe`.
struct SynthOptions: ParsableArguments {
    @Option(name: .long, help: "Training requests.") var requests = 20_000
    @Option(name: .long, help: "Validation requests (default: requests / 4).") var validRequests: Int?
    @Option(name: .long, help: "Test requests (default: requests / 4).") var testRequests: Int?
    @Option(name: .long, help: "Items in the item table.") var items = 20_000
    @Option(name: .long, help: "Users (default: max(200, requests / 5)).") var users: Int?
    @Option(name: .long, help: "Categories.") var categories = 24
    @Option(name: .long, help: "Candidates per request (K_max).") var kMax = 32
    @Option(name: .long, help: "Behaviours per request (L_max).") var lMax = 50
    @Option(name: .long, help: "Text vector width D_t.") var textDim = 384
    @Option(name: .long, help: "Image vector width D_v.") var imageDim = 512
    @Option(name: .long, help: "Query vector width D_q.") var queryDim = 384
    @Option(name: .long, help: "Random seed (same seed, same bytes).") var seed: UInt64 = 1

    var config: SynthConfig {
        var c = SynthConfig()
        c.trainRequests = requests
        c.validRequests = validRequests
        c.testRequests = testRequests
        c.items = items
        c.users = users
        c.categories = categories
        c.kMax = kMax
        c.lMax = lMax
        c.textDim = textDim
        c.imageDim = imageDim
        c.queryDim = queryDim
        c.seed = seed
        return c
    }
}

struct DataSynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic e-commerce search log whose optimum is known (true probabilities stored).")

    @Option(name: .long, help: "Output directory.") var out: String
    @OptionGroup var world: SynthOptions
    @Option(name: .long, help: "Requests per shard file.") var shardRequests = 50_000
    @Flag(name: .long, help: "Store item and query vectors as float32 instead of float16.") var float32 = false
    @Flag(name: .long, help: "Print the summary as JSON.") var json = false

    func run() throws {
        var c = world.config
        c.shardRequests = shardRequests
        c.float16 = !float32
        try SynthGenerator.generate(c, into: out)
        let summary = try DatasetSummary(Dataset(directory: out))
        print(json ? try summary.json() : summary.text())
    }
}

struct DataOracleProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oracle-probe",
        abstract: "Purchase AUC on the synthetic test split of the oracle, of the oracle without each logit term, and of an oracle limited to what a model observes.",
        discussion: "Takes the flags of `data synth` and regenerates the same world and requests in memory; writes nothing. See docs/DATA.md.")

    @OptionGroup var world: SynthOptions
    @Option(name: .long, help: "Also write every test candidate's logit terms to this CSV (to join with `predict`).") var termsOut: String?
    @Flag(name: .long, help: "Print one JSON object.") var json = false

    func run() throws {
        let (rows, taste) = try SynthOracleProbe.run(world.config, termsCSV: termsOut)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            struct Out: Encodable { var taste: SynthOracleProbe.TasteEstimate; var rows: [SynthOracleProbe.Row] }
            print(String(decoding: try e.encode(Out(taste: taste, rows: rows)), as: UTF8.self))
            return
        }
        let oracle = rows[0].auc
        for r in rows {
            let delta = r.name == rows[0].name ? "" : String(format: "  (%+.4f)", r.auc - oracle)
            print(r.name.padding(toLength: 62, withPad: " ", startingAt: 0) + String(format: " AUC %.4f", r.auc) + delta)
        }
        print(String(format: "taste estimate (fitted on valid): kappa·<s, S> / (n0 + |S|), kappa = %.2f, n0 = %.1f", taste.kappa, taste.n0))
    }
}

struct DataImportLETORCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-letor",
        abstract: "Turn SVMlight/LETOR files (label qid:… idx:val …, or LightGBM .query group files) into a data set.")

    @Option(name: .long, help: "Training file(s); normalisation statistics come from these only.") var train: [String] = []
    @Option(name: .long, help: "Group-size file for each --train file (LightGBM .query), in order.") var trainQuery: [String] = []
    @Option(name: .long, help: "Validation file(s).") var valid: [String] = []
    @Option(name: .long, help: "Group-size file for each --valid file.") var validQuery: [String] = []
    @Option(name: .long, help: "Test file(s).") var test: [String] = []
    @Option(name: .long, help: "Group-size file for each --test file.") var testQuery: [String] = []
    @Option(name: .long, help: "Output directory.") var out: String
    @Option(name: .long, help: "Candidates per request; longer groups are split into consecutive chunks (default: the longest group).") var kMax: Int?
    @Flag(name: .long, help: "Print the import report and data set summary as JSON.") var json = false

    func inputs(_ files: [String], _ queries: [String], _ flag: String) throws -> [LETORImporter.Input] {
        guard queries.isEmpty || queries.count == files.count else {
            throw EngineError.usage("import-letor: \(queries.count) --\(flag)-query file(s) for \(files.count) --\(flag) file(s)")
        }
        for f in files + queries where !FileManager.default.fileExists(atPath: f) {
            throw EngineError.usage("import-letor: \(f): no such file")
        }
        return files.enumerated().map { LETORImporter.Input(path: $1, queryPath: queries.isEmpty ? nil : queries[$0]) }
    }

    func run() throws {
        guard !train.isEmpty else { throw EngineError.usage("import-letor: --train is required") }
        let report = try LETORImporter.importFiles(
            train: inputs(train, trainQuery, "train"), valid: inputs(valid, validQuery, "valid"),
            test: inputs(test, testQuery, "test"), kMax: kMax, into: out)
        let summary = try DatasetSummary(Dataset(directory: out))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
            struct Both: Encodable { var report: LETORImportReport; var summary: DatasetSummary }
            print(String(decoding: try encoder.encode(Both(report: report, summary: summary)), as: UTF8.self))
        } else {
            for s in report.splits {
                print("\(s.name): \(s.documents) documents, \(s.groups) groups → \(s.requests) requests (K_max \(report.kMax), \(s.groupsSplit) groups split)")
            }
            print(summary.text())
        }
    }
}
