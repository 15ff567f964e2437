import Kernels

extension OpenCLBackend: LossOps {
    public func bceWithLogits(logits: Tensor, labels: Tensor, labelColumn: Int, rowMask: Tensor, weights: Tensor,
                              losses: Tensor, dLogits: Tensor) throws {
        let s = try LossValidation.bce(logits: logits, labels: labels, labelColumn: labelColumn, rowMask: rowMask,
                                       weights: weights, losses: losses, dLogits: dLogits)
        let args: [OpenCLKernel.Argument] = [
            .int(Int32(s.rows)), .int(Int32(s.targets)), .buffer(try buffer(logits, "bce logits")),
            .buffer(try buffer(labels, "bce labels")), .int(Int32(s.labelWidth)), .int(Int32(labelColumn)),
            .buffer(try buffer(rowMask, "bce rowMask")), .buffer(try buffer(weights, "bce weights")),
            .buffer(try buffer(losses, "bce losses")), .buffer(try buffer(dLogits, "bce dLogits")),
        ]
        let k = try kernel("loss_bce", family: "loss", source: KernelSources.loss)
        // One work-group per target (see loss.cl); it also writes the zero loss of an empty batch.
        let wg = try treeWorkGroup(tuning.lossWorkGroup, "lossWorkGroup")
        try k.launch(args, global: [s.targets * wg], local: [wg])
    }

    public func listwiseSoftmaxCrossEntropy(logits: Tensor, labels: Tensor, labelColumn: Int, mask: Tensor,
                                            weights: Tensor, losses: Tensor, skipped: Tensor, dLogits: Tensor) throws {
        let s = try LossValidation.listwise(logits: logits, labels: labels, labelColumn: labelColumn, mask: mask,
                                            weights: weights, losses: losses, skipped: skipped, dLogits: dLogits)
        let args: [OpenCLKernel.Argument] = [
            .int(Int32(mask.shape[0])), .int(Int32(s.listLength)), .int(Int32(s.targets)),
            .buffer(try buffer(logits, "listwise logits")),
            .buffer(try buffer(labels, "listwise labels")), .int(Int32(s.labelWidth)), .int(Int32(labelColumn)),
            .buffer(try buffer(mask, "listwise mask")), .buffer(try buffer(weights, "listwise weights")),
            .buffer(try buffer(losses, "listwise losses")), .buffer(try buffer(skipped, "listwise skipped", dtype: .int32)),
            .buffer(try buffer(dLogits, "listwise dLogits")),
        ]
        let k = try kernel("loss_listwise", family: "loss", source: KernelSources.loss)
        let wg = try treeWorkGroup(tuning.lossWorkGroup, "lossWorkGroup")
        try k.launch(args, global: [s.targets * wg], local: [wg])
    }
}
