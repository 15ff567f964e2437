/// Sizes and seed of a synthetic data set (`armmt-gpu data synth`).
///
/// The defaults give a data set the model's default configuration trains on in minutes on two
/// CPU cores: 20,000 training requests of up to 32 candidates and 50 behaviours over 20,000
/// items with 384-wide text and 512-wide image vectors (float16 on disk).
public struct SynthConfig: Sendable, Equatable {
    public var trainRequests = 20_000
    /// nil: a quarter of `trainRequests` (at least 1).
    public var validRequests: Int? = nil
    public var testRequests: Int? = nil
    public var items = 20_000
    /// nil: a fifth of `trainRequests` (at least 200).
    public var users: Int? = nil
    public var categories = 24
    public var kMax = 32
    public var lMax = 50
    public var textDim = 384
    public var imageDim = 512
    public var queryDim = 384
    public var seed: UInt64 = 1
    /// Requests per shard file; each shard is built in memory, the rest is streamed.
    public var shardRequests = 50_000
    /// Store item and query vectors as float16 (half the disk, widened on load).
    public var float16 = true

    public init() {}

    public var resolvedValid: Int { validRequests ?? max(1, trainRequests / 4) }
    public var resolvedTest: Int { testRequests ?? max(1, trainRequests / 4) }
    public var resolvedUsers: Int { users ?? max(200, trainRequests / 5) }

    public func validate() throws {
        func bad(_ m: String) -> EngineError { EngineError.usage("data synth: " + m) }
        if trainRequests < 1 { throw bad("--requests must be >= 1 (got \(trainRequests))") }
        if resolvedValid < 1 || resolvedTest < 1 { throw bad("--valid-requests and --test-requests must be >= 1") }
        if items < 4 { throw bad("--items must be >= 4 (got \(items))") }
        if items > Int(Int32.max) { throw bad("--items must fit in int32") }
        if categories < 2 || categories > items { throw bad("--categories must be in 2...items (got \(categories))") }
        if kMax < 2 { throw bad("--k-max must be >= 2 (got \(kMax))") }
        if kMax > items { throw bad("--k-max \(kMax) is larger than --items \(items)") }
        if lMax < 0 { throw bad("--l-max must be >= 0 (got \(lMax))") }
        if textDim < 1 || imageDim < 1 || queryDim < 1 { throw bad("--text-dim, --image-dim and --query-dim must be >= 1") }
        if shardRequests < 1 { throw bad("--shard-requests must be >= 1") }
        if resolvedUsers < 1 { throw bad("--users must be >= 1") }
    }
}
