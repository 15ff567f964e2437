import Foundation

/// What the values of a stored tensor must satisfy.
enum ValueRule {
    /// Every element finite (no NaN, no ±Inf).
    case finite
    /// Finite and >= 0 (labels; graded labels allowed).
    case nonNegative
    /// In [0, 1] (oracle probabilities).
    case probability
    /// 0 or 1 (presence flags).
    case flag
    /// An index into a table of `upper` rows, or -1 for padding.
    case index(upper: Int)
    /// Column `c` (of the last dimension) holds ids in `0 ..< vocabs[c]`.
    case categories(vocabs: [Int])
}

/// The expected form of one tensor of a data set file.
struct TensorRule {
    let name: String
    let dtypes: [SafeTensorDType]
    /// Expected shape; `nil` in the first position means "any row count, must match the file's".
    let shape: [Int?]
    let values: ValueRule
    let required: Bool

    static let floatTypes: [SafeTensorDType] = [.F32, .F16, .BF16]
    static let indexTypes: [SafeTensorDType] = [.I32, .I64]
    static let labelTypes: [SafeTensorDType] = [.F32, .F16, .U8, .I32, .I64]
    static let flagTypes: [SafeTensorDType] = [.U8, .BOOL, .I32, .I64, .F32]
}

enum TensorChecker {
    /// Checks dtype, shape and every value of `view` against `rule`; the error names the file,
    /// the tensor and the first bad row (index along the first dimension).
    static func check(_ view: TensorView, _ rule: TensorRule, rows: Int?) throws {
        let path = view.file.path
        let info = view.info
        func fail(_ m: String) -> EngineError { EngineError.runtime("\(path): tensor '\(rule.name)': \(m)") }
        guard rule.dtypes.contains(info.dtype) else {
            throw fail("dtype \(info.dtype.rawValue), expected \(rule.dtypes.map(\.rawValue).joined(separator: " or "))")
        }
        let expected = rule.shape.enumerated().map { i, d in d ?? (i == 0 ? rows ?? info.shape.first ?? 0 : 0) }
        guard info.shape == expected else {
            throw fail("shape \(info.shape.shapeDescription), expected \(expected.shapeDescription)")
        }
        let count = info.elementCount
        if count == 0 { return }
        let rowLength = max(1, count / max(1, info.shape.first ?? 1))
        func badRow(_ i: Int, _ what: String) -> EngineError {
            fail("row \(i / rowLength): \(what)")
        }
        switch rule.values {
        case .finite, .nonNegative, .probability:
            let (lo, hi): (Float, Float)
            switch rule.values {
            case .nonNegative: (lo, hi) = (0, .infinity)
            case .probability: (lo, hi) = (0, 1)
            default: (lo, hi) = (-.infinity, .infinity)
            }
            if info.dtype == .F16 && lo == -.infinity {
                // Fast path for the big item tables: a half is NaN/Inf iff its exponent is all ones.
                let p = view.base!
                for i in 0..<count where p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self) & 0x7C00 == 0x7C00 {
                    throw badRow(i, "\(view.float(i)) at element \(i % rowLength) (NaN/Inf not allowed)")
                }
                return
            }
            if info.dtype == .F32 && lo == -.infinity {
                let p = view.base!
                for i in 0..<count where !p.loadUnaligned(fromByteOffset: i * 4, as: Float.self).isFinite {
                    throw badRow(i, "\(view.float(i)) at element \(i % rowLength) (NaN/Inf not allowed)")
                }
                return
            }
            for i in 0..<count {
                let x = view.float(i)
                if !x.isFinite { throw badRow(i, "\(x) at element \(i % rowLength) (NaN/Inf not allowed)") }
                if x < lo || x > hi {
                    throw badRow(i, "\(x) at element \(i % rowLength) outside [\(lo), \(hi)]")
                }
            }
        case .flag:
            for i in 0..<count {
                let x = view.float(i)
                if x != 0 && x != 1 { throw badRow(i, "\(x) is not a 0/1 flag") }
            }
        case .index(let upper):
            let u = Int64(upper)
            for i in 0..<count {
                let x = view.integer(i)
                if x < -1 || x >= u { throw badRow(i, "index \(x) at slot \(i % rowLength) outside [-1, \(upper))") }
            }
        case .categories(let vocabs):
            let f = vocabs.count
            for i in 0..<count {
                let x = view.integer(i)
                let v = vocabs[i % f]
                if x < 0 || x >= Int64(v) { throw badRow(i, "id \(x) in column \(i % f) outside [0, \(v))") }
            }
        }
    }

    /// Checks every row of an index tensor `[N, K]` has at least one entry >= 0.
    static func checkNonEmptyRows(_ view: TensorView, what: String) throws {
        let n = view.shape[0], k = view.shape[1]
        for r in 0..<n {
            var any = false
            for j in 0..<k where view.integer(r * k + j) >= 0 { any = true; break }
            if !any {
                throw EngineError.runtime("\(view.file.path): tensor '\(view.info.name)': row \(r): \(what)")
            }
        }
    }

    /// Opens `path` and checks its tensors against `rules`: unknown names, missing required
    /// tensors, dtypes, shapes (row counts must agree) and values. Returns the file and its row count.
    static func open(path: String, rules: [TensorRule], rowSource: String?) throws -> (SafeTensorsFile, Int?) {
        let file = try SafeTensorsFile(path: path)
        let known = Set(rules.map(\.name))
        for t in file.tensors where !known.contains(t.name) {
            throw EngineError.runtime("\(path): tensor '\(t.name)' is not part of the schema (expected some of: \(rules.map(\.name).joined(separator: ", ")))")
        }
        var rows: Int? = nil
        if let rowSource, let info = file.info(rowSource) {
            guard let n = info.shape.first else {
                throw EngineError.runtime("\(path): tensor '\(rowSource)': shape \(info.shape.shapeDescription) has no row dimension")
            }
            rows = n
        }
        for rule in rules {
            guard let info = file.info(rule.name) else {
                if rule.required {
                    throw EngineError.runtime("\(path): tensor '\(rule.name)' is missing (the schema requires it)")
                }
                continue
            }
            try check(TensorView(file: file.file, info: info), rule, rows: rows)
        }
        return (file, rows)
    }
}
