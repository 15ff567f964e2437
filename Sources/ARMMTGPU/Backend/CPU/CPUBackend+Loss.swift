extension CPUBackend: LossOps {
    public func bceWithLogits(logits: Tensor, labels: Tensor, labelColumn: Int, rowMask: Tensor, weights: Tensor,
                              losses: Tensor, dLogits: Tensor) throws {
        let s = try LossValidation.bce(logits: logits, labels: labels, labelColumn: labelColumn, rowMask: rowMask,
                                       weights: weights, losses: losses, dLogits: dLogits)
        LossFastPath.bce(logits: try host(logits, "bce logits"), labels: try host(labels, "bce labels"),
                         labelWidth: s.labelWidth, labelColumn: labelColumn, rowMask: try host(rowMask, "bce rowMask"),
                         weights: try host(weights, "bce weights"), rows: s.rows, targets: s.targets,
                         losses: try host(losses, "bce losses"), dLogits: try host(dLogits, "bce dLogits"))
    }

    public func listwiseSoftmaxCrossEntropy(logits: Tensor, labels: Tensor, labelColumn: Int, mask: Tensor,
                                            weights: Tensor, losses: Tensor, skipped: Tensor, dLogits: Tensor) throws {
        let s = try LossValidation.listwise(logits: logits, labels: labels, labelColumn: labelColumn, mask: mask,
                                            weights: weights, losses: losses, skipped: skipped, dLogits: dLogits)
        LossFastPath.listwise(logits: try host(logits, "listwise logits"), labels: try host(labels, "listwise labels"),
                              labelWidth: s.labelWidth, labelColumn: labelColumn, mask: try host(mask, "listwise mask"),
                              weights: try host(weights, "listwise weights"),
                              lists: mask.shape[0], length: s.listLength, targets: s.targets,
                              losses: try host(losses, "listwise losses"), skipped: try hostInt32(skipped, "listwise skipped"),
                              dLogits: try host(dLogits, "listwise dLogits"))
    }
}
