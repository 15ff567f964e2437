import Foundation

/// Compiled OpenCL programs on disk, so a run does not pay the driver's compile time again.
///
/// Key: SHA-256 of device name, platform and driver version, build options and source: any
/// change to one of them is a different entry, never a stale hit. Each entry carries a
/// checksum of its payload; an entry that is short, mislabelled or fails the checksum is
/// counted as rejected and rebuilt, never handed to the driver.
public final class KernelCache {
    public let directory: URL
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var rejected = 0

    private static let magic = Array("ARMMTCL1".utf8)
    private static let headerSize = 8 + 8 + 32

    public init(directory: URL) {
        self.directory = directory
    }

    /// `$ARMMT_KERNEL_CACHE`, else `$XDG_CACHE_HOME/armmt-gpu`, else `~/.cache/armmt-gpu`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["ARMMT_KERNEL_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("armmt-gpu")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/armmt-gpu")
    }

    public func key(device: OpenCLDeviceInfo, source: String, options: String) -> String {
        let material = [device.name, device.vendor, device.platform, device.platformVersion,
                        device.driverVersion, options, source].joined(separator: "\u{1F}")
        return SHA256.hex(Array(material.utf8))
    }

    public func url(for key: String) -> URL { directory.appendingPathComponent(key + ".clbin") }

    /// The cached binary for `key`, or nil (a miss, or a rejected entry).
    func load(key: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: url(for: key)) else {
            misses += 1
            return nil
        }
        let bytes = [UInt8](data)
        guard bytes.count >= Self.headerSize, Array(bytes[0..<8]) == Self.magic else { return reject() }
        let length = bytes[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length == UInt64(bytes.count - Self.headerSize) else { return reject() }
        let payload = Array(bytes[Self.headerSize...])
        guard SHA256.digest(payload) == Array(bytes[16..<48]) else { return reject() }
        hits += 1
        return payload
    }

    private func reject() -> [UInt8]? {
        rejected += 1
        misses += 1
        return nil
    }

    /// Writes atomically (temporary file, then rename) so a crash never leaves a torn entry
    /// that another process could read. Failures are ignored: the cache is an optimisation.
    func store(key: String, binary: [UInt8]) {
        var bytes = Self.magic
        let length = UInt64(binary.count)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        bytes += SHA256.digest(binary)
        bytes += binary
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let tmp = directory.appendingPathComponent(".\(key).\(getpid()).tmp")
            try Data(bytes).write(to: tmp)
            if rename(tmp.path, url(for: key).path) != 0 { try? FileManager.default.removeItem(at: tmp) }
        } catch {
            // A read-only or full cache directory costs compile time, not correctness.
        }
    }
}
