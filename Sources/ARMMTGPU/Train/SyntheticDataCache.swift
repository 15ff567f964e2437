import Foundation

/// The synthetic data set `armmt-gpu train` uses when no `--data` is given: generated once with
/// `SynthGenerator` into a cache directory keyed by its config, and reused while it opens and
/// validates.
public enum SyntheticDataCache {
    /// `$ARMMT_DATA_CACHE`, else `$XDG_CACHE_HOME/armmt-gpu/data`, else `~/.cache/armmt-gpu/data`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["ARMMT_DATA_CACHE"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/armmt-gpu/data" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/armmt-gpu/data"
    }

    /// The directory name for `config`: seed and sizes, so another config never reuses it.
    public static func directoryName(_ c: SynthConfig) -> String {
        let key = [c.trainRequests, c.resolvedValid, c.resolvedTest, c.items, c.resolvedUsers, c.categories, c.kMax, c.lMax,
                   c.textDim, c.imageDim, c.queryDim, c.shardRequests].map(String.init).joined(separator: ",")
            + ",\(c.seed),\(c.float16)"
        return "synth-seed\(c.seed)-" + SHA256.hex(Array(key.utf8)).prefix(12)
    }

    /// The cached data set for `config` under `root`, generating it first when it is missing or
    /// does not validate. Returns its directory and whether it was generated now.
    public static func ensure(_ config: SynthConfig = SynthConfig(), root: String = defaultRoot(),
                              log: (String) -> Void = { _ in }) throws -> (directory: String, generated: Bool) {
        let fm = FileManager.default
        let dir = root + "/" + directoryName(config)
        if fm.fileExists(atPath: dir + "/" + DatasetSchema.fileName) {
            do {
                let ds = try Dataset(directory: dir)
                if ds.schema.source?["seed"] == String(config.seed) { return (dir, false) }
                log("\(dir): cached data set was made with another seed; generating it again")
            } catch {
                log("\(dir): cached data set is not valid (\(error)); generating it again")
            }
        }
        do {
            try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw EngineError.usage("\(root): cannot create the data cache directory")
        }
        // Generated beside the target and renamed in, so an interrupted generation is never reused.
        let temporary = dir + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: temporary)
        log("generating the default synthetic data set into \(dir) (once; reused afterwards)")
        try SynthGenerator.generate(config, into: temporary)
        try? fm.removeItem(atPath: dir)
        do {
            try fm.moveItem(atPath: temporary, toPath: dir)
        } catch {
            throw EngineError.runtime("\(dir): cannot move the generated data set into place: \(error.localizedDescription)")
        }
        return (dir, true)
    }
}
