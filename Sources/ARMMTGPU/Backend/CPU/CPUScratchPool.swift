import Foundation

/// Float scratch buffers kept between calls of the CPU backend's fast paths. Allocating the
/// megabytes CAFU needs per call made every call fault fresh pages in (and unmap them after),
/// which cost more than its arithmetic once the work was split over cores. Buffers are handed
/// out for the duration of one `withBuffers` call, so concurrent calls get distinct buffers;
/// at most `keep` idle buffers are retained. Contents are unspecified when handed out.
final class CPUScratchPool: @unchecked Sendable {
    private var idle: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private let lock = NSLock()
    private let keep = 12

    deinit { for b in idle { b.pointer.deallocate() } }

    /// Runs `body` with one buffer of at least `counts[i]` floats per entry.
    func withBuffers<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) throws -> R) rethrows -> R {
        var taken: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
        lock.lock()
        for count in counts {
            let need = max(count, 1)
            // The smallest idle buffer that fits, else a new one.
            if let i = idle.indices.filter({ idle[$0].capacity >= need }).min(by: { idle[$0].capacity < idle[$1].capacity }) {
                taken.append(idle.remove(at: i))
            } else {
                taken.append((.allocate(capacity: need), need))
            }
        }
        lock.unlock()
        defer {
            lock.lock()
            idle += taken
            if idle.count > keep {
                idle.sort { $0.capacity > $1.capacity }
                for b in idle[keep...] { b.pointer.deallocate() }
                idle.removeLast(idle.count - keep)
            }
            lock.unlock()
        }
        return try body(taken.map(\.pointer))
    }
}
