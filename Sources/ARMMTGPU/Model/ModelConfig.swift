import Foundation

/// A modality the model reads from the item table (docs/MODEL.md, switch `modalities`).
public enum Modality: String, Codable, Sendable, CaseIterable {
    case text, image
}

/// How a CAFU instance fuses its modality vectors (switch `fusion`).
public enum FusionKind: String, Codable, Sendable, CaseIterable {
    /// The gated unit: `r = Σ α_m x_m` with α from an MLP over `[z ⊕ c ⊕ e]`.
    case cafu
    /// `r = fuse([x_1 ⊕ … ⊕ x_M])`, absent modalities as zeros.
    case concat
    /// `r` = mean of the present modalities (no parameters).
    case mean
}

/// The list attention after fusion (switch `mpsa`).
public enum MPSAKind: String, Codable, Sendable, CaseIterable {
    /// H/2 heads per perspective (item, personalized), values from the joint token u.
    case multi
    /// One H-head self-attention with q, k, v from u.
    case single
    /// `z = u`: no list attention, no FFN.
    case off
}

/// Where a `multi` MPSA perspective takes its queries and keys from (switch `mpsa_qk`).
public enum MPSAQueryKey: String, Codable, Sendable, CaseIterable {
    /// `h_π = r_π + e + pos`, as ARMMT-SPEC §2 writes it.
    case h
    /// `r_π` alone, the perspective's multimodal representation, so that the scores compare
    /// candidates by content rather than by position (RESULTS.md); a perspective without its
    /// CAFU unit keeps `h_π`.
    case r
}

/// How the main head sees the item and personalized multimodal representations together
/// (switch `interaction`).
public enum HeadInteraction: String, Codable, Sendable, CaseIterable {
    /// `r_item ⊙ r_pers` is appended to the main head's input, when both units exist.
    case product
    /// The head input is `[z ⊕ h_I ⊕ h_P ⊕ c]` only, as ARMMT-SPEC §2 writes it.
    case none
}

/// What the auxiliary head reads (switch `aux_input`).
public enum AuxInput: String, Codable, Sendable, CaseIterable {
    /// `[r_item ⊕ r_pers ⊕ c ⊕ r_item ⊙ r_pers]`, the product only when both CAFU units exist:
    /// the auxiliary loss then trains the candidate–user match directly (RESULTS.md).
    case rProduct = "r_product"
    /// `[r_item ⊕ r_pers ⊕ c]`, as ARMMT-SPEC §2 writes it.
    case r
}

/// The main loss (switch `loss`).
public enum MainLoss: String, Codable, Sendable, CaseIterable {
    case bce, listwise
}

/// Named bundles of switches (switch `preset`).
public enum ModelPreset: String, Codable, Sendable, CaseIterable {
    /// No modalities, no behaviours, single self-attention, no auxiliary task (PRM-style baseline).
    case prm
}

/// The model's configuration: the JSON object of docs/MODEL.md ("Switches"), snake_case keys.
///
/// Decoding refuses an unknown key or an unknown enum value with a message naming the key.
/// `preset: "prm"` sets `modalities = []`, `behaviour_attention = false`, `mpsa = single`,
/// `aux_weight = 0`; one of these keys given explicitly with a different value is an error
/// naming the key (the preset is a promise about what the model is, so it is never silently
/// overridden). Sizes are checked against the data set by `validate(schema:)`.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var modalities: [Modality] = [.text, .image]
    public var fusion: FusionKind = .cafu
    public var gate: CAFUGate = .scalar
    public var behaviourAttention = true
    public var mpsa: MPSAKind = .multi
    public var mpsaQueryKey: MPSAQueryKey = .h
    public var interaction: HeadInteraction = .product
    /// λ: weight of the auxiliary loss; 0 removes the auxiliary head and its parameters.
    public var auxWeight: Float = 0.3
    public var auxInput: AuxInput = .rProduct
    public var loss: MainLoss = .bce
    public var preset: ModelPreset? = nil
    /// d, the model width.
    public var width = 64
    /// H, attention heads (divides d; even for `mpsa = multi`).
    public var heads = 4
    public var blocks = 1
    /// E, width of every categorical embedding.
    public var embeddingWidth = 16
    /// h, hidden width of the CAFU gate MLP.
    public var cafuHidden = 64
    public var seed: UInt64 = 0

    public init() {}

    /// The defaults with `preset` applied.
    public init(preset: ModelPreset) {
        self.init()
        applyPreset(preset)
    }

    /// Sets `preset` and the switches it fixes.
    public mutating func applyPreset(_ p: ModelPreset) {
        preset = p
        for (key, _) in Self.presetValues(p) { setPresetValue(key, p) }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modalities, fusion, gate
        case behaviourAttention = "behaviour_attention"
        case mpsa
        case mpsaQueryKey = "mpsa_qk"
        case interaction
        case auxWeight = "aux_weight"
        case auxInput = "aux_input"
        case loss, preset, width, heads, blocks
        case embeddingWidth = "embedding_width"
        case cafuHidden = "cafu_hidden"
        case seed
    }

    /// The keys a preset fixes, with the value it gives them (for messages).
    static func presetValues(_ p: ModelPreset) -> [(CodingKeys, String)] {
        switch p {
        case .prm:
            return [(.modalities, "[]"), (.behaviourAttention, "false"), (.mpsa, "\"single\""), (.auxWeight, "0")]
        }
    }

    private mutating func setPresetValue(_ key: CodingKeys, _ p: ModelPreset) {
        switch (p, key) {
        case (.prm, .modalities): modalities = []
        case (.prm, .behaviourAttention): behaviourAttention = false
        case (.prm, .mpsa): mpsa = .single
        case (.prm, .auxWeight): auxWeight = 0
        default: break
        }
    }

    /// Whether the switch `key` holds the value the preset gives it.
    private func matchesPreset(_ key: CodingKeys, _ p: ModelPreset) -> Bool {
        switch (p, key) {
        case (.prm, .modalities): return modalities.isEmpty
        case (.prm, .behaviourAttention): return !behaviourAttention
        case (.prm, .mpsa): return mpsa == .single
        case (.prm, .auxWeight): return auxWeight == 0
        default: return true
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw EngineError.usage("model config: unknown key \"\(unknown)\" (known: \(CodingKeys.allCases.map(\.stringValue).joined(separator: ", ")))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()

        func value<T: Decodable>(_ key: CodingKeys, _ type: T.Type) throws -> T? {
            do {
                return try c.decodeIfPresent(type, forKey: key)
            } catch {
                throw EngineError.usage("model config: \"\(key.stringValue)\" has the wrong type (expected \(Self.describe(type)))")
            }
        }
        func choice<E: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ type: E.Type) throws -> E? where E.RawValue == String {
            guard let s = try value(key, String.self) else { return nil }
            guard let e = E(rawValue: s) else {
                throw EngineError.usage("model config: \"\(key.stringValue)\" is \"\(s)\", expected one of \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            return e
        }

        if let p = try choice(.preset, ModelPreset.self) { applyPreset(p) }
        if let names = try value(.modalities, [String].self) {
            modalities = try names.map { name in
                guard let m = Modality(rawValue: name) else {
                    throw EngineError.usage("model config: \"modalities\" contains \"\(name)\", expected \"text\" and/or \"image\"")
                }
                return m
            }
        }
        if let v = try choice(.fusion, FusionKind.self) { fusion = v }
        if let v = try choice(.gate, CAFUGate.self) { gate = v }
        if let v = try value(.behaviourAttention, Bool.self) { behaviourAttention = v }
        if let v = try choice(.mpsa, MPSAKind.self) { mpsa = v }
        if let v = try choice(.mpsaQueryKey, MPSAQueryKey.self) { mpsaQueryKey = v }
        if let v = try choice(.interaction, HeadInteraction.self) { interaction = v }
        if let v = try value(.auxWeight, Float.self) { auxWeight = v }
        if let v = try choice(.auxInput, AuxInput.self) { auxInput = v }
        if let v = try choice(.loss, MainLoss.self) { loss = v }
        if let v = try value(.width, Int.self) { width = v }
        if let v = try value(.heads, Int.self) { heads = v }
        if let v = try value(.blocks, Int.self) { blocks = v }
        if let v = try value(.embeddingWidth, Int.self) { embeddingWidth = v }
        if let v = try value(.cafuHidden, Int.self) { cafuHidden = v }
        if let v = try value(.seed, UInt64.self) { seed = v }
        try checkPreset()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modalities, forKey: .modalities)
        try c.encode(fusion, forKey: .fusion)
        try c.encode(gate.rawValue, forKey: .gate)
        try c.encode(behaviourAttention, forKey: .behaviourAttention)
        try c.encode(mpsa, forKey: .mpsa)
        try c.encode(mpsaQueryKey, forKey: .mpsaQueryKey)
        try c.encode(interaction, forKey: .interaction)
        try c.encode(auxWeight, forKey: .auxWeight)
        try c.encode(auxInput, forKey: .auxInput)
        try c.encode(loss, forKey: .loss)
        try c.encodeIfPresent(preset, forKey: .preset)
        try c.encode(width, forKey: .width)
        try c.encode(heads, forKey: .heads)
        try c.encode(blocks, forKey: .blocks)
        try c.encode(embeddingWidth, forKey: .embeddingWidth)
        try c.encode(cafuHidden, forKey: .cafuHidden)
        try c.encode(seed, forKey: .seed)
    }

    /// Decodes a config from JSON bytes (an empty object gives the defaults).
    public static func decode(json: Data) throws -> ModelConfig {
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: json)
        } catch let e as EngineError {
            throw e
        } catch {
            throw EngineError.usage("model config: not a JSON object: \(DatasetSchema.describe(error))")
        }
    }

    /// Pretty, key-sorted JSON.
    public func encodedJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// A preset's switches must hold its values.
    func checkPreset() throws {
        guard let p = preset else { return }
        for (key, v) in Self.presetValues(p) where !matchesPreset(key, p) {
            throw EngineError.usage("model config: \"\(key.stringValue)\" contradicts preset \"\(p.rawValue)\", which sets it to \(v)")
        }
    }

    private static func describe<T>(_ type: T.Type) -> String {
        switch type {
        case is [String].Type: return "a list of strings"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Float.Type: return "a number"
        case is Int.Type, is UInt64.Type: return "an integer"
        default: return "\(type)"
        }
    }
}
