import Foundation

/// The terms of one candidate's purchase logit in the synthetic world (docs/DATA.md):
/// `η = b + categoryMatch + style + quality + price + cheaperTwin + position`.
/// Kept apart so the oracle probe can remove or replace one term at a time.
public struct SynthLogitTerms: Sendable, Equatable {
    /// `1.5·[cat = query cat]`
    public var categoryMatch: Float
    /// `w_c·3·⟨s, τ⟩`
    public var style: Float
    /// `(1 − w_c)·1.8·q`
    public var quality: Float
    /// `−β·priceZ`
    public var price: Float
    /// `−1.2·[a cheaper near-duplicate is in the list]`
    public var cheaperTwin: Float
    /// `−0.35·log2(1 + p)`
    public var position: Float

    /// `b`, the base purchase logit.
    public static let bias: Float = SynthWorld.purchaseBias

    public var eta: Float {
        Self.bias + categoryMatch + style + quality + price + cheaperTwin + position
    }
}

/// One request of the synthetic world, drawn exactly as `data synth` writes it: the user, the
/// query's category, the behaviours, the candidates in the prior ranker's order with their
/// prior scores, every logit term, and the drawn labels.
struct SynthRequest {
    var user = 0
    var queryCategory = 0
    var behaviours: [Int32] = []
    /// Candidates in the prior ranker's order (slot p = position p).
    var candidates: [Int32] = []
    var prior: [Float] = []
    var terms: [SynthLogitTerms] = []
    var clicked: [Bool] = []
    var purchased: [Bool] = []

    /// Draws request `index` of split `split` (0 train, 1 valid, 2 test) and writes its query
    /// vector to `query[0 ..< D_q]`. The order of random draws is the data format's contract
    /// (same seed, same bytes): change it and every synthetic data set changes.
    init(_ w: SynthWorld, split: Int, index: Int, query: UnsafeMutablePointer<Float>) {
        let c = w.config, k = c.kMax, l = c.lMax
        var rng = SynthWorld.stream(c.seed, 100 + UInt64(split), index)
        let u = rng.index(c.resolvedUsers)
        let qc = rng.index(c.categories)
        user = u
        queryCategory = qc
        w.queryVector(category: qc, &rng, into: query)

        // Behaviours: recent items this user engaged with, picked for style fit and price.
        let beta = w.userPriceSensitivity[u]
        if l > 0 {
            let nb = rng.unit() < 0.08 ? 0 : 1 + rng.index(l)
            for _ in 0..<nb {
                var best = 0, bestScore = -Float.infinity
                for _ in 0..<6 {
                    let it = rng.index(c.items)
                    let s = 2 * w.styleMatch(item: it, user: u) - 0.5 * beta * w.itemPriceZ[it] + 0.3 * Float(rng.normal())
                    if s > bestScore { bestScore = s; best = it }
                }
                behaviours.append(Int32(best))
            }
        }

        // Candidates: mostly the query's category, some strays, some near-duplicates.
        let length = rng.unit() < 0.6 ? k : k / 2 + rng.index(k - k / 2 + 1)
        var chosen: [Int32] = []
        var attempts = 0
        while chosen.count < length && attempts < 20 * k {
            attempts += 1
            var it: Int32
            if !chosen.isEmpty && rng.unit() < 0.25 {
                let base = Int(chosen[rng.index(chosen.count)])
                let f = Int(w.itemFamily[base])
                let size = Int(w.familyCount[f])
                if size < 2 { continue }
                it = w.familyStart[f] + Int32(rng.index(size))
            } else if rng.unit() < 0.75 && !w.categoryItems[qc].isEmpty {
                let pool = w.categoryItems[qc]
                it = pool[rng.index(pool.count)]
            } else {
                it = Int32(rng.index(c.items))
            }
            if chosen.contains(it) { continue }
            chosen.append(it)
        }
        // Prior ranker: knows the query match and (noisily) quality, not the user.
        var priorOf: [Float] = []
        for it in chosen {
            let i = Int(it)
            let match: Float = w.itemCategory[i] == Int32(qc) ? 1 : 0
            priorOf.append(1.0 * match + 0.6 * w.itemQuality[i] + 0.8 * Float(rng.normal()))
        }
        let order = chosen.indices.sorted { priorOf[$0] > priorOf[$1] || (priorOf[$0] == priorOf[$1] && $0 < $1) }
        for (p, idx) in order.enumerated() {
            let i = Int(chosen[idx])
            let rel = w.reliance[Int(w.itemCategory[i])]
            var cheaperTwin = false
            for other in chosen where other != Int32(i) && w.itemFamily[Int(other)] == w.itemFamily[i]
                && w.itemLogPrice[Int(other)] < w.itemLogPrice[i] - 0.05 {
                cheaperTwin = true
                break
            }
            let t = SynthLogitTerms(
                categoryMatch: Int(w.itemCategory[i]) == qc ? 1.5 : 0,
                style: rel * 3 * w.styleMatch(item: i, user: u),
                quality: (1 - rel) * 1.8 * w.itemQuality[i],
                price: -beta * w.itemPriceZ[i],
                cheaperTwin: cheaperTwin ? -1.2 : 0,
                position: -0.35 * log2(1 + Float(p)))
            let pBuy = SynthGenerator.sigmoid(t.eta), pClick = SynthGenerator.sigmoid(t.eta + SynthWorld.clickOffset)
            let click = Float(rng.unit()) < pClick
            candidates.append(Int32(i))
            prior.append(priorOf[idx])
            terms.append(t)
            clicked.append(click)
            purchased.append(click && Float(rng.unit()) * pClick < pBuy)
        }
    }
}
