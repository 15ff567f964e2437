extension CPUBackend: CopyOps {
    public func copyWindow(_ p: WindowCopy, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        CopyFastPath.copyWindow(p, src: try host(src, "copyWindow source"), srcCount: src.count,
                                dst: try host(dst, "copyWindow destination"), dstCount: dst.count, parallel: parallel)
    }

    public func sumGroups(_ p: GroupSum, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        CopyFastPath.sumGroups(p, src: try host(src, "sumGroups source"), srcCount: src.count,
                               dst: try host(dst, "sumGroups destination"), dstCount: dst.count, parallel: parallel)
    }
}
