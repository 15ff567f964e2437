import Foundation

/// One tensor's entry in a safetensors header, after validation.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorDType
    public let shape: [Int]
    /// Absolute byte offset of the first element in the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file (https://github.com/huggingface/safetensors), memory-mapped.
///
/// Layout: 8 bytes little-endian u64 `N`, then `N` bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
///   "__metadata__": {"key": "value"}}`, then the data buffer; offsets are relative to the
/// buffer's start. Before any tensor is touched, `init` checks that the header is well formed,
/// every dtype known, every byte count equal to shape × dtype size, and that the tensors tile the
/// buffer exactly (no overlap, no gap, nothing past the end of the file, no trailing bytes), as
/// the reference implementation does. A file that fails any of these is refused with one line
/// naming the file and the tensor.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    /// Tensors in the order their data lies in the file.
    public let tensors: [SafeTensorInfo]
    public let metadata: [String: String]
    private let byName: [String: Int]

    /// Headers larger than this are refused (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        let size = file.size
        guard size >= 8 else {
            throw EngineError.runtime("\(path): truncated: \(size) bytes, shorter than the 8-byte header length")
        }
        let lengthBytes = file.bytes(0, 8)
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(lengthBytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw EngineError.runtime("\(path): header length \(headerLength) is larger than \(Self.maxHeaderBytes) bytes (not a safetensors file?)")
        }
        let n = Int(headerLength)
        guard 8 + n <= size else {
            throw EngineError.runtime("\(path): truncated: header claims \(n) bytes but the file has \(size - 8) after the length")
        }
        let headerBytes = Data(file.bytes(8, n))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerBytes, options: [])
        } catch {
            throw EngineError.runtime("\(path): header is not valid JSON (\(n) bytes)")
        }
        guard let object = json as? [String: Any] else {
            throw EngineError.runtime("\(path): header is not a JSON object")
        }
        let dataStart = 8 + n
        let bufferSize = size - dataStart
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: SafeTensorDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw EngineError.runtime("\(path): __metadata__ is not an object of strings")
                }
                for (k, v) in dict {
                    guard let s = v as? String else {
                        throw EngineError.runtime("\(path): __metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let dict = value as? [String: Any] else {
                throw EngineError.runtime("\(path): tensor '\(name)': header entry is not an object")
            }
            guard let dtypeName = dict["dtype"] as? String else {
                throw EngineError.runtime("\(path): tensor '\(name)': missing dtype")
            }
            guard let dtype = SafeTensorDType(rawValue: dtypeName) else {
                throw EngineError.runtime("\(path): tensor '\(name)': unsupported dtype \(dtypeName)")
            }
            guard let shapeArray = dict["shape"] as? [Any], let shape = Self.integers(shapeArray) else {
                throw EngineError.runtime("\(path): tensor '\(name)': shape is not a list of non-negative integers")
            }
            guard let offsetArray = dict["data_offsets"] as? [Any], let offsets = Self.integers(offsetArray),
                  offsets.count == 2 else {
                throw EngineError.runtime("\(path): tensor '\(name)': data_offsets is not [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw EngineError.runtime("\(path): tensor '\(name)': data_offsets [\(begin), \(end)] end before they begin")
            }
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                if overflow { throw EngineError.runtime("\(path): tensor '\(name)': shape \(shape) overflows") }
                count = p
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytes == end - begin else {
                throw EngineError.runtime("\(path): tensor '\(name)': data_offsets [\(begin), \(end)] hold \(end - begin) bytes but \(dtype.rawValue) \(shape) needs \(count) × \(dtype.byteSize)")
            }
            entries.append((name, dtype, shape, begin, end))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected = 0
        for e in entries {
            if e.begin != expected {
                let problem = e.begin < expected ? "overlaps the previous tensor" : "leaves a gap after byte \(expected)"
                throw EngineError.runtime("\(path): tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] \(problem)")
            }
            if e.end > bufferSize {
                throw EngineError.runtime("\(path): truncated: tensor '\(e.name)' ends at data byte \(e.end) but the file holds only \(bufferSize) data bytes")
            }
            expected = e.end
        }
        if expected != bufferSize {
            throw EngineError.runtime("\(path): \(bufferSize - expected) trailing bytes after the last tensor (header offsets do not cover the file)")
        }
        tensors = entries.map {
            SafeTensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape,
                           fileOffset: dataStart + $0.begin, byteCount: $0.end - $0.begin)
        }
        var byName: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { byName[t.name] = i }
        self.byName = byName
        self.metadata = metadata
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            // JSONSerialization bridges integral JSON numbers to Int; 1.5 or "3" fail here.
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d.isFinite, d >= 0, d == d.rounded(), d < 9.0e15 else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    public var names: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> SafeTensorInfo? { byName[name].map { tensors[$0] } }

    /// A typed view of tensor `name`; throws naming the file if it is absent.
    public func view(_ name: String) throws -> TensorView {
        guard let info = info(name) else { throw EngineError.runtime("\(path): no tensor '\(name)'") }
        return TensorView(file: file, info: info)
    }

    /// Tensor `name` as Float (F16/BF16/F64 and integer types converted).
    public func floats(_ name: String) throws -> [Float] {
        let v = try view(name)
        var out = [Float](repeating: 0, count: v.count)
        out.withUnsafeMutableBufferPointer { v.copyFloats(from: 0, count: v.count, into: $0.baseAddress!) }
        return out
    }

    /// Tensor `name` as Int32 (I64 values outside Int32 are refused).
    public func int32s(_ name: String) throws -> [Int32] {
        let v = try view(name)
        var out = [Int32](repeating: 0, count: v.count)
        for i in 0..<v.count {
            let x = v.integer(i)
            guard x >= Int64(Int32.min), x <= Int64(Int32.max) else {
                throw EngineError.runtime("\(path): tensor '\(name)' element \(i): \(x) does not fit in int32")
            }
            out[i] = Int32(x)
        }
        return out
    }

    /// The raw bytes of tensor `name`.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        try view(name).bytes
    }
}

/// A read-only view of one tensor in a mapped file, with element access that converts dtypes.
///
/// Element reads are unaligned-safe: safetensors writers need not align tensor data.
public struct TensorView: @unchecked Sendable {
    public let file: MappedFile
    public let info: SafeTensorInfo
    public let base: UnsafeRawPointer?

    public init(file: MappedFile, info: SafeTensorInfo) {
        self.file = file
        self.info = info
        base = info.byteCount == 0 ? nil : file.base! + info.fileOffset
    }

    public var dtype: SafeTensorDType { info.dtype }
    public var shape: [Int] { info.shape }
    public var count: Int { info.elementCount }
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: info.byteCount) }

    /// Element `i` as Float.
    @inline(__always)
    public func float(_ i: Int) -> Float {
        let p = base!
        switch info.dtype {
        case .F32: return p.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .F16: return halfToFloat(p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        case .BF16: return bfloat16ToFloat(p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        case .F64: return Float(p.loadUnaligned(fromByteOffset: i * 8, as: Double.self))
        case .I64: return Float(p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        case .I32: return Float(p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
        case .I16: return Float(p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
        case .I8: return Float(p.load(fromByteOffset: i, as: Int8.self))
        case .U8, .BOOL: return Float(p.load(fromByteOffset: i, as: UInt8.self))
        }
    }

    /// Element `i` as Int64 (floating-point dtypes truncate; callers check dtypes first).
    @inline(__always)
    public func integer(_ i: Int) -> Int64 {
        let p = base!
        switch info.dtype {
        case .I64: return p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
        case .I32: return Int64(p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
        case .I16: return Int64(p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))
        case .I8: return Int64(p.load(fromByteOffset: i, as: Int8.self))
        case .U8, .BOOL: return Int64(p.load(fromByteOffset: i, as: UInt8.self))
        default:
            let f = float(i)
            return f.isFinite ? Int64(f) : 0
        }
    }

    /// Copies elements `[start, start + count)` as Float into `out`.
    public func copyFloats(from start: Int, count n: Int, into out: UnsafeMutablePointer<Float>) {
        if n == 0 { return }
        switch info.dtype {
        case .F32:
            memcpy(out, base! + start * 4, n * 4)
        case .F16:
            let p = base! + start * 2
            var j = 0
            #if arch(x86_64) || arch(arm64)
            // Eight at a time through the hardware conversion (F16C on x86-64), which widens
            // exactly like `halfToFloat` (every binary16 value is a float32 value); a
            // batch's item vectors are millions of elements per step.
            while j + 8 <= n {
                let h = p.loadUnaligned(fromByteOffset: j * 2, as: SIMD8<UInt16>.self)
                let f = SIMD8<Float>(unsafeBitCast(h, to: SIMD8<Float16>.self))
                UnsafeMutableRawPointer(out + j).storeBytes(of: f, as: SIMD8<Float>.self)
                j += 8
            }
            #endif
            while j < n {
                out[j] = halfToFloat(p.loadUnaligned(fromByteOffset: j * 2, as: UInt16.self))
                j += 1
            }
        default:
            for j in 0..<n { out[j] = float(start + j) }
        }
    }

    /// Copies elements `[start, start + count)` as Int32 into `out` (values were range-checked on load).
    public func copyInt32s(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        if n == 0 { return }
        switch info.dtype {
        case .I32:
            memcpy(out, base! + start * 4, n * 4)
        case .I64:
            let p = base! + start * 8
            for j in 0..<n { out[j] = Int32(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: j * 8, as: Int64.self)) }
        default:
            for j in 0..<n { out[j] = Int32(truncatingIfNeeded: integer(start + j)) }
        }
    }
}
