import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a
/// half-written one: data goes to a temporary file in the same directory, is fsync'ed, then
/// renamed over the target, and the directory is fsync'ed so the rename survives a crash.
///
/// Writes are buffered (1 MiB), so streaming many small appends is cheap.
public final class AtomicFileWriter {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    public private(set) var bytesWritten = 0
    private var done = false

    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        temporaryPath = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            throw EngineError.runtime("\(path): cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(bufferLimit)
    }

    deinit { if !done { abandon() } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!done, "write after finish")
        if buffer.count + bytes.count > bufferLimit { try flush() }
        if bytes.count >= bufferLimit {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Appends the raw (host, little-endian) bytes of `values`.
    public func write<T>(values: [T]) throws { try values.withUnsafeBytes { try write($0) } }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw EngineError.runtime("\(path): write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Flushes, fsyncs and renames the temporary file over `path`.
    public func finish() throws {
        precondition(!done, "finish twice")
        try flush()
        if fsync(fd) != 0 { throw EngineError.runtime("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        if rename(temporaryPath, path) != 0 {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            done = true
            throw EngineError.runtime("\(path): rename from \(temporaryPath) failed: \(message)")
        }
        done = true
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let dfd = open(dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Removes the temporary file; the target is left as it was.
    public func abandon() {
        if done { return }
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        done = true
    }

    /// Writes `data` to `path` atomically in one call.
    public static func write(_ data: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(data)
        try w.finish()
    }
}
