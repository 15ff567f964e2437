import Foundation

/// The hidden world behind a synthetic e-commerce search log; see docs/DATA.md, "Synthetic data".
///
/// - Categories have a *visual reliance* w_c: even categories are fashion-like (w ∈ [0.65, 0.95],
///   bought on looks), odd ones electronics-like (w ∈ [0.05, 0.35], bought on specs).
/// - Items come in families of near-duplicates (same category, style and quality, nearly the
///   same vectors, different prices). Hidden *style* s ∈ R^8 (unit) is visible only through
///   the image vector; hidden *quality* q ~ N(0, 1) mostly through the text vector (weakly in
///   the image and in the noisy `sales` statistic). Price is log-normal around a category level.
/// - Users have a hidden style taste τ (unit, R^8) that shows only through the images of their
///   behaviour sequence, and a price sensitivity β ∈ [0, 1.5] that shows through a noisy
///   `age_bucket` and through the prices of their behaviours.
/// - A request: a user, a query naming a category (query vector = that category's text
///   direction + noise), a candidate list from a noisy prior ranker (mostly the query's
///   category, some near-duplicates), ordered by the prior score.
/// - Purchase logit of a candidate at 0-based position p:
///   η = b + 1.5·[cat = query cat] + w_c·3·⟨s, τ⟩ + (1 − w_c)·1.8·q − β·priceZ
///       − 1.2·[a cheaper near-duplicate is in the list] − 0.35·log2(1 + p);
///   P(purchase) = σ(η), P(click) = σ(η + 2). A click is drawn with P(click), a purchase with
///   P(purchase)/P(click) given a click, so purchases are a subset of clicks.
struct SynthWorld {
    static let styleDim = 8
    static let textLatent = 24   // 8 category + 4 quality + 12 family/item noise
    static let imageLatent = 29  // 8 style + 8 category + 1 quality + 12 noise
    static let purchaseBias: Float = -3.2
    static let clickOffset: Float = 2.0
    static let brandVocab = 64
    static let ageBuckets = 6
    static let regions = 10

    let config: SynthConfig
    let reliance: [Float]
    let categoryText: [Float]   // [C, 8]
    let categoryImage: [Float]  // [C, 8]
    let categoryPrice: [Float]  // mean log price

    let itemCategory: [Int32]
    let itemFamily: [Int32]
    let familyStart: [Int32]
    let familyCount: [Int32]
    let itemStyle: [Float]      // [I, 8]
    let itemQuality: [Float]
    let itemLogPrice: [Float]
    let itemPriceZ: [Float]     // (log price − category mean) / spread
    let itemBrand: [Int32]
    let itemSales: [Float]
    let hasText: [UInt8]
    let hasImage: [UInt8]
    let categoryItems: [[Int32]]

    let userTaste: [Float]      // [U, 8]
    let userPriceSensitivity: [Float]
    let userAge: [Int32]
    let userRegion: [Int32]

    let textProjection: [Float]  // [D_t, textLatent]
    let imageProjection: [Float] // [D_v, imageLatent]

    /// An independent random stream for (`tag`, `id`): regenerable, so vectors can be rebuilt
    /// row by row while streaming instead of being held in memory.
    static func stream(_ seed: UInt64, _ tag: UInt64, _ id: Int) -> SeededRandom {
        SeededRandom(seed: seed ^ (tag &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(id) &* 0xD1B5_4A32_D192_ED03) ^ (tag << 56))
    }

    private static func normals(_ rng: inout SeededRandom, _ n: Int, _ scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.normal()) * scale }
    }

    private static func unit(_ v: [Float]) -> [Float] {
        let n = max(1e-6, v.reduce(0) { $0 + $1 * $1 }.squareRoot())
        return v.map { $0 / n }
    }

    init(config: SynthConfig) {
        self.config = config
        let seed = config.seed
        let c = config.categories, d = Self.styleDim
        var rng = Self.stream(seed, 1, 0)
        reliance = (0..<c).map { $0 % 2 == 0 ? Float(rng.uniform(0.65, 0.95)) : Float(rng.uniform(0.05, 0.35)) }
        categoryText = Self.normals(&rng, c * 8)
        categoryImage = Self.normals(&rng, c * 8)
        categoryPrice = (0..<c).map { _ in Float(rng.uniform(2.5, 5.5)) }

        var rngP = Self.stream(seed, 2, 0)
        textProjection = Self.normals(&rngP, config.textDim * Self.textLatent, 1 / Float(Self.textLatent).squareRoot())
        imageProjection = Self.normals(&rngP, config.imageDim * Self.imageLatent, 1 / Float(Self.imageLatent).squareRoot())

        let n = config.items
        var cat = [Int32](repeating: 0, count: n), fam = [Int32](repeating: 0, count: n)
        var style = [Float](repeating: 0, count: n * d), quality = [Float](repeating: 0, count: n)
        var logPrice = [Float](repeating: 0, count: n), priceZ = [Float](repeating: 0, count: n)
        var brand = [Int32](repeating: 0, count: n), sales = [Float](repeating: 0, count: n)
        var ht = [UInt8](repeating: 1, count: n), hi = [UInt8](repeating: 1, count: n)
        var famStart: [Int32] = [], famCount: [Int32] = []
        var rngI = Self.stream(seed, 3, 0)
        var famStyle = [Float](repeating: 0, count: d), famQuality: Float = 0, famPrice: Float = 0
        var famCat = 0, famBrand: Int32 = 0
        let spread: Float = 0.63
        for i in 0..<n {
            if i == 0 || rngI.unit() < 0.4 {
                famCat = rngI.index(c)
                famStyle = Self.unit(Self.normals(&rngI, d))
                famQuality = Float(rngI.normal())
                famPrice = categoryPrice[famCat] + 0.5 * Float(rngI.normal()) + 0.3 * famQuality
                famBrand = Int32(rngI.index(Self.brandVocab))
                famStart.append(Int32(i))
                famCount.append(0)
            }
            famCount[famCount.count - 1] += 1
            fam[i] = Int32(famStart.count - 1)
            cat[i] = Int32(famCat)
            let s = Self.unit(zip(famStyle, Self.normals(&rngI, d, 0.1)).map { $0 + $1 })
            for k in 0..<d { style[i * d + k] = s[k] }
            quality[i] = famQuality + 0.1 * Float(rngI.normal())
            logPrice[i] = famPrice + 0.25 * Float(rngI.normal())
            priceZ[i] = (logPrice[i] - categoryPrice[famCat]) / spread
            brand[i] = famBrand
            sales[i] = 0.5 * quality[i] + Float(rngI.normal())
            ht[i] = rngI.unit() < 0.01 ? 0 : 1
            hi[i] = rngI.unit() < 0.04 ? 0 : 1
        }
        itemCategory = cat; itemFamily = fam; familyStart = famStart; familyCount = famCount
        itemStyle = style; itemQuality = quality; itemLogPrice = logPrice; itemPriceZ = priceZ
        itemBrand = brand; itemSales = sales; hasText = ht; hasImage = hi
        var byCat = [[Int32]](repeating: [], count: c)
        for i in 0..<n { byCat[Int(cat[i])].append(Int32(i)) }
        categoryItems = byCat

        let u = config.resolvedUsers
        var rngU = Self.stream(seed, 4, 0)
        var taste = [Float](repeating: 0, count: u * d), beta = [Float](repeating: 0, count: u)
        var age = [Int32](repeating: 0, count: u), region = [Int32](repeating: 0, count: u)
        for j in 0..<u {
            let t = Self.unit(Self.normals(&rngU, d))
            for k in 0..<d { taste[j * d + k] = t[k] }
            beta[j] = Float(rngU.uniform(0, 1.5))
            let bucket = Int((Double(beta[j]) / 1.5 * Double(Self.ageBuckets) + 0.8 * rngU.normal()).rounded(.down))
            age[j] = Int32(min(Self.ageBuckets - 1, max(0, bucket)))
            region[j] = Int32(rngU.index(Self.regions))
        }
        userTaste = taste; userPriceSensitivity = beta; userAge = age; userRegion = region
    }

    @inline(__always)
    func styleMatch(item: Int, user: Int) -> Float {
        var s: Float = 0
        for k in 0..<Self.styleDim { s += itemStyle[item * Self.styleDim + k] * userTaste[user * Self.styleDim + k] }
        return s
    }

    /// `out = normalize(P · latent + 0.02 · noise)`, the way a sentence/image encoder's unit
    /// vectors look; `noiseRng` gives the per-dimension noise.
    private func project(_ projection: [Float], _ latent: [Float], dim: Int, _ noiseRng: inout SeededRandom, into out: UnsafeMutablePointer<Float>) {
        let z = latent.count
        var norm: Float = 0
        projection.withUnsafeBufferPointer { p in
            latent.withUnsafeBufferPointer { l in
                for r in 0..<dim {
                    var s: Float = 0
                    let row = p.baseAddress! + r * z
                    for k in 0..<z { s += row[k] * l[k] }
                    s += 0.02 * Float(noiseRng.normal())
                    out[r] = s
                    norm += s * s
                }
            }
        }
        let inv = 1 / max(1e-6, norm.squareRoot())
        for r in 0..<dim { out[r] *= inv }
    }

    private func familyNoise(_ tag: UInt64, _ item: Int) -> [Float] {
        var f = Self.stream(config.seed, tag, Int(itemFamily[item]))
        var it = Self.stream(config.seed, tag + 1, item)
        return (0..<12).map { _ in 0.6 * Float(f.normal()) + 0.15 * Float(it.normal()) }
    }

    /// Text vector of `item` into `out[0 ..< D_t]` (zeros when the item has no text).
    func textVector(_ item: Int, into out: UnsafeMutablePointer<Float>) {
        if hasText[item] == 0 { out.initialize(repeating: 0, count: config.textDim); return }
        let c = Int(itemCategory[item]), q = itemQuality[item]
        var latent = Array(categoryText[c * 8 ..< c * 8 + 8])
        latent += [Float](repeating: 0.75 * q, count: 4)
        latent += familyNoise(10, item)
        var rng = Self.stream(config.seed, 12, item)
        project(textProjection, latent, dim: config.textDim, &rng, into: out)
    }

    /// Image vector of `item` into `out[0 ..< D_v]` (zeros when the item has no image).
    func imageVector(_ item: Int, into out: UnsafeMutablePointer<Float>) {
        if hasImage[item] == 0 { out.initialize(repeating: 0, count: config.imageDim); return }
        let c = Int(itemCategory[item])
        var latent = itemStyle[item * 8 ..< item * 8 + 8].map { 2 * $0 }
        latent += categoryImage[c * 8 ..< c * 8 + 8].map { 0.7 * $0 }
        latent.append(0.3 * itemQuality[item])
        latent += familyNoise(20, item)
        var rng = Self.stream(config.seed, 22, item)
        project(imageProjection, latent, dim: config.imageDim, &rng, into: out)
    }

    /// Query vector for a query naming `category`: its text direction plus query noise, in the
    /// text space (as a sentence encoder would place the query next to matching titles), then
    /// a fixed random map to D_q.
    func queryVector(category: Int, _ rng: inout SeededRandom, into out: UnsafeMutablePointer<Float>) {
        var latent = categoryText[category * 8 ..< category * 8 + 8].map { $0 + 0.4 * Float(rng.normal()) }
        latent += (0..<16).map { _ in 0.5 * Float(rng.normal()) }
        // The query uses the first text-latent columns of its own projection rows: reuse the
        // text projection's geometry when D_q == D_t, otherwise wrap around it.
        let z = Self.textLatent
        var norm: Float = 0
        for r in 0..<config.queryDim {
            let row = (r % config.textDim) * z
            var s: Float = 0
            for k in 0..<8 { s += textProjection[row + k] * latent[k] }
            for k in 0..<16 { s += textProjection[row + 8 + k] * latent[8 + k] }
            out[r] = s
            norm += s * s
        }
        let inv = 1 / max(1e-6, norm.squareRoot())
        for r in 0..<config.queryDim { out[r] *= inv }
    }
}
