extension CPUBackend: CopyOps {
    public func copyWindow(_ p: WindowCopy, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        CopyReference.copyWindow(p, src: try host(src, "copyWindow source"), dst: try host(dst, "copyWindow destination"))
    }

    public func sumGroups(_ p: GroupSum, from src: Tensor, to dst: Tensor) throws {
        try p.validate(srcCount: src.count, dstCount: dst.count)
        CopyReference.sumGroups(p, src: try host(src, "sumGroups source"), dst: try host(dst, "sumGroups destination"))
    }
}
