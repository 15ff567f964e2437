/// CPU reference for `CopyOps`, generic so it runs in Float and Double.
public enum CopyReference {
    public static func copyWindow<T: BinaryFloatingPoint>(_ p: WindowCopy, src: UnsafePointer<T>, dst: UnsafeMutablePointer<T>) {
        let scale = T(p.scale)
        for r in 0..<p.rows {
            let s = src + p.srcOffset + (r / p.repeatRows) * p.srcStride
            let d = dst + p.dstOffset + r * p.dstStride
            if p.accumulate {
                for c in 0..<p.cols { d[c] += scale * s[c] }
            } else if p.scale == 1 {
                d.update(from: s, count: p.cols)
            } else {
                for c in 0..<p.cols { d[c] = scale * s[c] }
            }
        }
    }

    public static func sumGroups<T: BinaryFloatingPoint>(_ p: GroupSum, src: UnsafePointer<T>, dst: UnsafeMutablePointer<T>) {
        for g in 0..<p.groups {
            let d = dst + p.dstOffset + g * p.dstStride
            if !p.accumulate { d.update(repeating: 0, count: p.cols) }
            for j in 0..<p.groupSize {
                let s = src + p.srcOffset + (g * p.groupSize + j) * p.srcStride
                for c in 0..<p.cols { d[c] += s[c] }
            }
        }
    }
}
