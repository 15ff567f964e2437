/// A batch of requests as host arrays, ready to upload (shapes row-major; B = `size`).
///
/// Candidate and behaviour entries are item-table indices (-1 = padding); gather their vectors
/// and columns with `ItemTable.gather*`. Masks are float 1/0 as the ops expect.
public struct Batch {
    /// Request indices (within the split) this batch holds, in order.
    public internal(set) var requests: [Int] = []
    public let kMax: Int
    public let lMax: Int
    public let listFeatureCount: Int
    public let targetCount: Int
    public let queryDim: Int
    public let userFeatureCount: Int

    /// `[B, K_max]` int32 item indices, -1 padding.
    public internal(set) var candidates: [Int32] = []
    /// `[B, K_max]` 1 = valid candidate.
    public internal(set) var candidateMask: [Float] = []
    /// `[B, L_max]` int32 item indices, newest first, -1 padding.
    public internal(set) var behaviours: [Int32] = []
    /// `[B, L_max]` 1 = valid behaviour.
    public internal(set) var behaviourMask: [Float] = []
    /// `[B, K_max, F_l]` per-candidate list features (zeros at padding).
    public internal(set) var listFeatures: [Float] = []
    /// `[B, K_max, T]` labels (graded allowed; zeros at padding).
    public internal(set) var labels: [Float] = []
    /// `[B, D_q]` query vectors.
    public internal(set) var query: [Float] = []
    /// `[B, F_u]` user categorical ids.
    public internal(set) var users: [Int32] = []
    /// `[B, K_max, T]` true probabilities, when the split stores them.
    public internal(set) var oracle: [Float]? = nil
    /// `[B]` request ids, when the split stores them.
    public internal(set) var requestIDs: [Int64]? = nil

    public var size: Int { requests.count }

    public init(kMax: Int, lMax: Int, listFeatureCount: Int, targetCount: Int, queryDim: Int, userFeatureCount: Int) {
        self.kMax = kMax
        self.lMax = lMax
        self.listFeatureCount = listFeatureCount
        self.targetCount = targetCount
        self.queryDim = queryDim
        self.userFeatureCount = userFeatureCount
    }
}
