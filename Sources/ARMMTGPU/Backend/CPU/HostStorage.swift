/// Host memory for CPU-backend tensors: 64-byte aligned (a cache line, and what AVX-512
/// loads prefer), freed in `deinit`.
public final class HostStorage: TensorStorage {
    public let byteCount: Int
    let raw: UnsafeMutableRawPointer

    init(byteCount: Int) {
        self.byteCount = byteCount
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { raw.deallocate() }

    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
}
