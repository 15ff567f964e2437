extension CPUBackend: AttentionOps {
    public func attentionForward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                                 out: Tensor, logSumExp: Tensor) throws {
        try p.validateForward(q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp)
        let pq = try host(q, "attention Q"), pk = try host(k, "attention K"), pv = try host(v, "attention V")
        let pm = try keyMask.map { try host($0, "attention key mask") }
        let po = try host(out, "attention O"), pl = try host(logSumExp, "attention logSumExp")
        AttentionFastPath.forward(p, q: pq, k: pk, v: pv, keyMask: pm.map { UnsafePointer($0) },
                                  out: po, logSumExp: pl, pool: scratch, parallel: parallel)
    }

    public func attentionBackward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                                  out: Tensor, logSumExp: Tensor, dOut: Tensor,
                                  dQ: Tensor, dK: Tensor, dV: Tensor) throws {
        try p.validateBackward(q: q, k: k, v: v, keyMask: keyMask, out: out, logSumExp: logSumExp,
                               dOut: dOut, dQ: dQ, dK: dK, dV: dV)
        let pq = try host(q, "attention Q"), pk = try host(k, "attention K"), pv = try host(v, "attention V")
        let pm = try keyMask.map { try host($0, "attention key mask") }
        let po = try host(out, "attention O"), pl = try host(logSumExp, "attention logSumExp")
        let pdo = try host(dOut, "attention dO")
        let pdq = try host(dQ, "attention dQ"), pdk = try host(dK, "attention dK"), pdv = try host(dV, "attention dV")
        AttentionFastPath.backward(p, q: pq, k: pk, v: pv, keyMask: pm.map { UnsafePointer($0) },
                                   out: po, logSumExp: pl, dOut: pdo, dQ: pdq, dK: pdk, dV: pdv, pool: scratch, parallel: parallel)
    }
}
