import Foundation

/// What each term of the synthetic world's purchase logit is worth, and how much of the oracle a
/// model could reach from what it observes (`armmt-gpu data oracle-probe`, RESULTS.md).
///
/// The oracle knows every hidden quantity. A model sees the item's text and image (from which the
/// item's style and quality are linear read-outs: both vectors are linear maps of their latents
/// plus 2% noise), the user's coarse profile (`age_bucket`, a noisy view of the price sensitivity
/// β) and the behaviours' vectors (the user's taste τ only through the styles of the items the
/// user picked). Each row re-scores the same drawn requests and labels with a changed logit:
/// - *without X*: the term X removed, so `oracle − row` is what X is worth;
/// - *observable*: ⟨s, τ⟩ replaced by an estimate from the behaviours that have an image, and β
///   by E[β | age bucket] (over all users of the world); a candidate without an image gets style 0.
///   Behaviours are picked with probability rising with ⟨s_j, τ⟩, so the posterior of τ is
///   von Mises–Fisher-like: its direction is that of S = Σ_j s_j and its confidence grows with |S|.
///   The estimate is `κ·⟨s, S⟩ / (n₀ + |S|)`, with κ and n₀ chosen on the validation split.
///   This estimates the ceiling for a model whose personalization reads behaviour images and the
///   profile, as ARMMT's does. It is handed the latent styles and the form of the logit, which a
///   model must learn from the vectors and labels, and it ignores β's trace in the behaviours'
///   prices.
public enum SynthOracleProbe {
    public struct Row: Sendable, Codable, Equatable {
        public var name: String
        public var auc: Double
    }

    /// The fitted taste estimate `κ·⟨s, S⟩ / (n₀ + |S|)`.
    public struct TasteEstimate: Sendable, Codable, Equatable {
        public var kappa: Float
        public var n0: Float
    }

    /// Per-candidate quantities the rows need; one entry per valid candidate.
    struct Sample {
        /// `request_id` as `data synth` writes it, and the slot in the list.
        var requestID: Int
        var slot: Int
        var terms: SynthLogitTerms
        /// `w_c·3`, the world's weight of the style match for this candidate's category.
        var styleWeight: Float
        /// `⟨s, S⟩` (0 without an image) and `|S|` over the behaviours with an image.
        var styleDotSum: Float
        var sumNorm: Float
        /// `−E[β | age]·priceZ`
        var priceFromProfile: Float
        var purchased: Bool

        func styleFromBehaviours(_ e: TasteEstimate) -> Float {
            styleWeight * e.kappa * styleDotSum / (e.n0 + sumNorm)
        }
    }

    public static let kappas: [Float] = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2]
    public static let n0s: [Float] = [0.5, 1, 2, 4, 8]

    /// Rows scored on the test split; the taste estimate is fitted on the valid split. With
    /// `termsCSV`, every test candidate's terms are written there too (one row per valid
    /// candidate: request_id, position, the six terms, the two observable replacements, the
    /// label), to be joined with `predict`'s output.
    public static func run(_ config: SynthConfig, termsCSV: String? = nil) throws -> (rows: [Row], taste: TasteEstimate) {
        try config.validate()
        let w = SynthWorld(config: config)
        let beta = betaByAge(w)
        let valid = samples(w, split: 1, count: config.resolvedValid, firstRequestID: config.trainRequests, betaByAge: beta)
        let test = samples(w, split: 2, count: config.resolvedTest, firstRequestID: config.trainRequests + config.resolvedValid,
                           betaByAge: beta)
        func auc(_ s: [Sample], _ eta: (Sample) -> Float) -> Double {
            RankingMetrics.auc(scores: s.map { Double(eta($0)) }, labels: s.map { $0.purchased ? 1.0 : 0.0 }) ?? .nan
        }
        var taste = TasteEstimate(kappa: 1, n0: 1), best = -Double.infinity
        for kappa in kappas {
            for n0 in n0s {
                let e = TasteEstimate(kappa: kappa, n0: n0)
                let a = auc(valid) { s in var t = s.terms; t.style = s.styleFromBehaviours(e); return t.eta }
                if a > best { best = a; taste = e }
            }
        }
        if let path = termsCSV { try writeTerms(test, taste, to: path) }
        var rows: [Row] = [Row(name: "oracle (every hidden quantity)", auc: auc(test) { $0.terms.eta })]
        let removals: [(String, WritableKeyPath<SynthLogitTerms, Float>)] = [
            ("category match", \.categoryMatch), ("style × taste", \.style), ("quality", \.quality),
            ("price × sensitivity", \.price), ("cheaper near-duplicate", \.cheaperTwin), ("position", \.position),
        ]
        for (name, key) in removals {
            rows.append(Row(name: "without " + name, auc: auc(test) { var t = $0.terms; t[keyPath: key] = 0; return t.eta }))
        }
        rows.append(Row(name: "taste from behaviour styles, β exact", auc: auc(test) { s in
            var t = s.terms; t.style = s.styleFromBehaviours(taste); return t.eta }))
        rows.append(Row(name: "τ exact, β from age bucket", auc: auc(test) { s in
            var t = s.terms; t.price = s.priceFromProfile; return t.eta }))
        rows.append(Row(name: "observable (taste from behaviour styles, β from age bucket)", auc: auc(test) { s in
            var t = s.terms; t.style = s.styleFromBehaviours(taste); t.price = s.priceFromProfile; return t.eta }))
        return (rows, taste)
    }

    static func writeTerms(_ samples: [Sample], _ taste: TasteEstimate, to path: String) throws {
        var text = "request_id,position,category_match,style,quality,price,cheaper_twin,position_term,style_from_behaviours,price_from_profile,purchase\n"
        for s in samples {
            let t = s.terms
            let values = [t.categoryMatch, t.style, t.quality, t.price, t.cheaperTwin, t.position,
                          s.styleFromBehaviours(taste), s.priceFromProfile]
            text += "\(s.requestID),\(s.slot)," + values.map { String($0) }.joined(separator: ",") + (s.purchased ? ",1\n" : ",0\n")
        }
        try AtomicFileWriter.write(Array(text.utf8), to: path)
    }

    /// E[β | age bucket] over the world's users: what the profile says about β.
    static func betaByAge(_ w: SynthWorld) -> [Float] {
        var betaSum = [Float](repeating: 0, count: SynthWorld.ageBuckets), betaCount = betaSum
        for u in 0..<w.config.resolvedUsers {
            betaSum[Int(w.userAge[u])] += w.userPriceSensitivity[u]
            betaCount[Int(w.userAge[u])] += 1
        }
        return zip(betaSum, betaCount).map { $1 > 0 ? $0 / $1 : 0.75 }
    }

    static func samples(_ w: SynthWorld, split: Int, count: Int, firstRequestID: Int, betaByAge: [Float]) -> [Sample] {
        let c = w.config, d = SynthWorld.styleDim
        var out: [Sample] = []
        var query = [Float](repeating: 0, count: c.queryDim)
        for r in 0..<count {
            let req = query.withUnsafeMutableBufferPointer { SynthRequest(w, split: split, index: r, query: $0.baseAddress!) }
            var sum = [Float](repeating: 0, count: d)
            for b in req.behaviours where w.hasImage[Int(b)] != 0 {
                for k in 0..<d { sum[k] += w.itemStyle[Int(b) * d + k] }
            }
            let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let betaHat = betaByAge[Int(w.userAge[req.user])]
            for (p, item) in req.candidates.enumerated() {
                let i = Int(item)
                var dot: Float = 0
                if w.hasImage[i] != 0 { for k in 0..<d { dot += w.itemStyle[i * d + k] * sum[k] } }
                out.append(Sample(requestID: firstRequestID + r, slot: p, terms: req.terms[p],
                                  styleWeight: w.reliance[Int(w.itemCategory[i])] * 3, styleDotSum: dot, sumNorm: norm,
                                  priceFromProfile: -betaHat * w.itemPriceZ[i], purchased: req.purchased[p]))
            }
        }
        return out
    }
}
