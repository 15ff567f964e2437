import Foundation

/// Refuses JSON objects with keys a config type does not know, so a misspelt key
/// (`"learnig_rate"`) is an error naming it instead of a silently ignored default.
public enum StrictKeys {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Throws `EngineError.usage` naming the first unknown key as `section.key` (keys sorted,
    /// so the message does not depend on hash order).
    public static func check<K: CodingKey & CaseIterable>(_ decoder: Decoder, allowed: K.Type, section: String) throws {
        let known = Set(K.allCases.map(\.stringValue))
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let bad = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw EngineError.usage("config: unknown key \"\(section).\(bad)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
    }
}

/// JSON helpers for configs: decoding with one-line messages, canonical bytes, key-path diffs.
public enum ConfigJSON {
    /// Decodes `T` from `data`; a type or syntax error becomes one `EngineError.usage` line
    /// naming `what` and the key path.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as EngineError {
            throw e
        } catch {
            throw EngineError.usage("\(what): \(DatasetSchema.describe(error))")
        }
    }

    /// Decodes `T` from the JSON object `data` as section `section` of a config, so type errors
    /// name the full key path (`train.batch_size`).
    public static func decodeSection<T: Decodable>(_ type: T.Type, section: String, from data: Data, what: String = "config") throws -> T {
        let object = try Self.object(data, what: what)
        return try decode(SectionWrapper<T>.self, from: try canonical([section: object]), what: what).value
    }

    /// A JSON object from `data`, or a usage error saying it is not one.
    public static func object(_ data: Data, what: String) throws -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw EngineError.usage("\(what): not valid JSON: \(syntaxError(error, in: data))")
        }
        guard let object = value as? [String: Any] else { throw EngineError.usage("\(what): expected a JSON object") }
        return object
    }

    /// The parser's reason with the place as line:column ("Invalid value around character 8"
    /// becomes "line 1, column 9: invalid value"); Foundation's own description says neither.
    static func syntaxError(_ error: Error, in data: Data) -> String {
        let debug = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? error.localizedDescription
        let text = debug.hasSuffix(".") ? String(debug.dropLast()) : debug
        guard let r = text.range(of: #"character (\d+)"#, options: .regularExpression),
              let offset = Int(text[r].dropFirst("character ".count)) else {
            return text.prefix(1).lowercased() + text.dropFirst()
        }
        var line = 1, column = 1
        for (i, byte) in data.enumerated() {
            if i >= offset { break }
            if byte == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        let reason = text[..<r.lowerBound].replacingOccurrences(of: " around ", with: "").trimmingCharacters(in: .whitespaces)
        return "line \(line), column \(column): \(reason.prefix(1).lowercased() + reason.dropFirst())"
    }

    /// Sorted-key bytes of a JSON value (stable for the same content).
    public static func canonical(_ value: Any, pretty: Bool = false) throws -> Data {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        return try JSONSerialization.data(withJSONObject: value, options: options)
    }

    /// Leaves of a JSON value by key path (`train.early_stopping.metric` → `"auc"`), values as
    /// canonical JSON text.
    public static func flatten(_ value: Any, prefix: String = "") -> [String: String] {
        if let object = value as? [String: Any] {
            var out: [String: String] = [:]
            for (k, v) in object {
                out.merge(flatten(v, prefix: prefix.isEmpty ? k : prefix + "." + k)) { a, _ in a }
            }
            if object.isEmpty { out[prefix] = "{}" }
            return out
        }
        let text = (try? canonical(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        return [prefix: text]
    }

    /// Key paths whose values differ between two JSON values: `"path: a vs b"` (missing → `absent`),
    /// sorted by path.
    public static func differences(_ a: Any, _ b: Any) -> [String] {
        let fa = flatten(a), fb = flatten(b)
        return Set(fa.keys).union(fb.keys).sorted().compactMap { k in
            let x = fa[k], y = fb[k]
            return x == y ? nil : "\(k): \(x ?? "absent") vs \(y ?? "absent")"
        }
    }
}

/// `{"<section>": T}`: decoding through it puts the section name in front of every key path.
private struct SectionWrapper<T: Decodable>: Decodable {
    let value: T

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: StrictKeys.AnyKey.self)
        guard let key = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "empty section"))
        }
        value = try c.decode(T.self, forKey: key)
    }
}
