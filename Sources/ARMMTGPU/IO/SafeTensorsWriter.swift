import Foundation

/// Name, dtype and shape of one tensor to write.
public struct SafeTensorSpec: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorDType
    public let shape: [Int]

    public init(_ name: String, _ dtype: SafeTensorDType, _ shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
}

/// Streams a safetensors file to disk atomically (see `AtomicFileWriter`).
///
/// The header is written first from the specs, so the data can then be appended piece by piece
/// in spec order without ever holding a whole tensor in memory; `finish()` checks that exactly
/// the announced number of bytes arrived before it renames the file into place. The header is
/// padded with spaces to a multiple of 8 bytes, as the reference writer does, so tensors whose
/// predecessors have sizes that are multiples of their element size stay aligned.
public final class SafeTensorsStreamWriter {
    public let path: String
    public let specs: [SafeTensorSpec]
    private let writer: AtomicFileWriter
    private let dataStart: Int
    private let totalBytes: Int

    public init(path: String, tensors: [SafeTensorSpec], metadata: [String: String] = [:]) throws {
        self.path = path
        specs = tensors
        var seen = Set<String>()
        for t in tensors {
            guard t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw EngineError.usage("\(path): tensor name '\(t.name)' is reserved or repeated")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }) else {
                throw EngineError.usage("\(path): tensor '\(t.name)' has a negative dimension \(t.shape)")
            }
        }
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(Self.quote($0)):\(Self.quote(metadata[$0]!))" }
            parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
        }
        var offset = 0
        for t in tensors {
            let end = offset + t.byteCount
            parts.append("\(Self.quote(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        totalBytes = offset
        writer = try AtomicFileWriter(path: path)
        var length = UInt64(headerBytes.count)
        var prefix = [UInt8]()
        for _ in 0..<8 { prefix.append(UInt8(length & 0xFF)); length >>= 8 }
        try writer.write(prefix)
        try writer.write(headerBytes)
        dataStart = writer.bytesWritten
    }

    /// Data bytes appended so far.
    public var dataBytesWritten: Int { writer.bytesWritten - dataStart }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard dataBytesWritten + bytes.count <= totalBytes else {
            throw EngineError.runtime("\(path): more data appended than the header announces (\(totalBytes) bytes)")
        }
        try writer.write(bytes)
    }

    /// Appends the raw bytes of `values` (Float → F32, Int32 → I32, UInt16 half bits → F16, ...).
    public func append<T>(_ values: [T]) throws { try values.withUnsafeBytes { try append($0) } }

    public func finish() throws {
        guard dataBytesWritten == totalBytes else {
            writer.abandon()
            throw EngineError.runtime("\(path): \(dataBytesWritten) data bytes written but the header announces \(totalBytes)")
        }
        try writer.finish()
    }

    public func abandon() { writer.abandon() }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// One tensor with its data, for writing small files in one call.
public struct SafeTensorBlob {
    public let spec: SafeTensorSpec
    public let bytes: [UInt8]

    public init<T>(_ name: String, _ dtype: SafeTensorDType, _ shape: [Int], _ values: [T]) {
        spec = SafeTensorSpec(name, dtype, shape)
        bytes = values.withUnsafeBytes { Array($0) }
        precondition(bytes.count == spec.byteCount, "tensor '\(name)': \(bytes.count) bytes for \(dtype.rawValue) \(shape)")
    }

    /// Floats stored as F16 (rounded to nearest even).
    public static func half(_ name: String, _ shape: [Int], _ values: [Float]) -> SafeTensorBlob {
        SafeTensorBlob(name, .F16, shape, values.map(floatToHalf))
    }
}

public enum SafeTensorsWriter {
    /// Writes `tensors` (in this order) and `metadata` to `path` atomically.
    public static func write(path: String, tensors: [SafeTensorBlob], metadata: [String: String] = [:]) throws {
        let w = try SafeTensorsStreamWriter(path: path, tensors: tensors.map(\.spec), metadata: metadata)
        for t in tensors { try w.append(t.bytes) }
        try w.finish()
    }
}
