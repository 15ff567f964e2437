/// Fused multi-head attention with a key-padding mask, forward and backward: the behaviour
/// cross-attention (candidates attend to behaviours) and the list self-attention of MPSA
/// (queries/keys from one tensor, values from another: pass the same tensor as `q` and `k`).
///
/// Notation (shapes in the default dense layout of `AttentionParameters`; every tensor float32):
/// - `Q [B, Lq, H, dh]`, `K [B, Lk, H, dh]`, `V [B, Lk, H, dh]`, `O [B, Lq, H, dh]`;
/// - `keyMask [B, Lk]`: key j of sample b takes part where `keyMask[b, j] != 0` (1 valid,
///   0 padding, anywhere in the sequence); `nil` means every key is valid;
/// - `logSumExp [B, H, Lq]`: the softmax statistics the backward recomputes probabilities from.
///
/// For each b, h, query i, with `s_j = scale · Q[b,i,h,:]·K[b,j,h,:]` over the valid keys `j`:
///
///     P_ij = exp(s_j − lse_i),   lse_i = log Σ_{valid j} exp(s_j),
///     O[b,i,h,:] = Σ_{valid j} P_ij · V[b,j,h,:].
///
/// A row with no valid key (an empty behaviour sequence) gets `O = 0` and `lse = 0`, never
/// NaN, and zero gradients. Masked keys are never read: padding rows of K and V may hold
/// anything, NaN included, without leaking into results. Query rows are not masked (a padding
/// query gets an ordinary output; callers mask it downstream).
///
/// "Fused": no implementation writes the `[B, H, Lq, Lk]` score matrix to memory; scores live
/// in registers/local memory (OpenCL) or a per-row scratch in cache (CPU).
public protocol AttentionOps {
    /// Writes `out = O` and `logSumExp = lse` as above. `out` and `logSumExp` are written, never
    /// read (NaN in them does not leak).
    func attentionForward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                          out: Tensor, logSumExp: Tensor) throws

    /// Gradients of a loss `L` given `dOut = ∂L/∂O` (layout of `out`), from the forward's `out`
    /// and `logSumExp` (recomputing `P` from `lse`, FlashAttention-2 style):
    ///
    ///     D_i   = Σ_c dO[i,c] · O[i,c]
    ///     dP_ij = dO_i · V_j,   dS_ij = P_ij · (dP_ij − D_i)
    ///     dQ_i  = scale · Σ_j dS_ij · K_j
    ///     dK_j  = scale · Σ_i dS_ij · Q_i
    ///     dV_j  = Σ_i P_ij · dO_i
    ///
    /// `dQ` has `q`'s layout, `dK` `k`'s and `dV` `v`'s. All three are written, not accumulated
    /// (masked keys get 0 in dK and dV, rows without a valid key 0 in dQ). When `q` and `k` are
    /// the same tensor the caller adds `dQ + dK`. Deterministic: every sum runs in a fixed order.
    func attentionBackward(_ p: AttentionParameters, q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor?,
                           out: Tensor, logSumExp: Tensor, dOut: Tensor,
                           dQ: Tensor, dK: Tensor, dV: Tensor) throws
}
