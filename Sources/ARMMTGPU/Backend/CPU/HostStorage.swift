import Foundation

/// Host memory for CPU-backend tensors: 64-byte aligned (a cache line, and what AVX-512
/// loads prefer), freed in `deinit`. Tensors of 2 MiB and more are aligned to 2 MiB and
/// offered to the kernel as transparent huge pages (`madvise`), as PyTorch's CPU allocator
/// does: the model's activations (megabytes each, 20 MB for one CAFU backward) otherwise span
/// more 4 KiB pages than the TLB holds, and the page walks cost time and make it vary from
/// run to run. Where THP is off the advice is ignored.
public final class HostStorage: TensorStorage {
    public let byteCount: Int
    let raw: UnsafeMutableRawPointer

    static let hugePage = 2 << 20

    init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= Self.hugePage {
            let rounded = (byteCount + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            raw = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: Self.hugePage)
            _ = madvise(raw, rounded, MADV_HUGEPAGE)
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
        }
    }

    deinit { raw.deallocate() }

    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
}
