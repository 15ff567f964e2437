extension CPUBackend: SoftmaxOps {
    public func maskedSoftmaxForward(_ p: MaskedSoftmaxParameters, x: Tensor, keyMask: Tensor?, y: Tensor) throws {
        try p.validate(x: x, keyMask: keyMask, y: y)
        let px = UnsafePointer(try host(x, "softmax x")), py = try host(y, "softmax y")
        let pm = try keyMask.map { UnsafePointer(try host($0, "softmax key mask")) }
        // Rows are independent and each is written by one range: results do not depend on the split.
        CPUParallel.forEachRange(p.rows, workPerItem: 3 * p.length, parallel: parallel) { range in
            SoftmaxReference.forward(p, x: px, keyMask: pm, y: py, rows: range)
        }
    }
}
