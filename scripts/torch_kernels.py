#!/usr/bin/env python3
"""The peer of `armmt-gpu bench kernels`: the same ops at the same default shapes, written as a
PyTorch user would (torch.matmul / F.linear, F.layer_norm, bias + F.gelu, SDPA with a key mask),
timed the same way: warm-up, then the median of 7 samples, each enough back-to-back launches for
about 50 ms closed by one synchronisation. Prints one row per op with the median in µs, so each
armmt-gpu row can be divided by its PyTorch row (BENCHMARKS.md).

    python3 scripts/torch_kernels.py --threads 2            # CPU
    python3 scripts/torch_kernels.py --device cuda --tf32 off   # a GPU box (TF32 off: FP32 as armmt-gpu)
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

# The default config of armmt-gpu bench kernels: 256 requests, K = 32, L = 50, d = 64, 4 heads.
B, K, L, D, H = 256, 32, 50, 64, 4


def timeit(fn, sync, target_s=0.05, samples=7, warmup=3):
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-6)
    n = max(1, int(target_s / one))
    times = []
    for _ in range(samples):
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times) * 1e6


def key_mask(batch, lk, gen, device):
    """As armmt-gpu's bench: every 17th request has no key, the others a random prefix."""
    lens = torch.randint(1, lk + 1, (batch,), generator=gen)
    lens[::17] = 0
    return (torch.arange(lk)[None, :] < lens[:, None]).to(device)


def cases(device, gen):
    r = lambda *s: (torch.rand(*s, generator=gen) * 2 - 1).to(device)
    item_rows, list_rows = B * (K + L), B * K
    out = []

    def gemm(name, m, n, k, kind):
        # As armmt-gpu's bench: the NT rows are Linear layers with a bias, TN a weight gradient.
        a, w, b = (r(k, m), r(k, n), None) if kind == "TN" else (r(m, k), r(n, k), r(n))
        fn = (lambda: a.t() @ w) if kind == "TN" else (lambda: F.linear(a, w, b))
        out.append(("gemm", f"{name} {kind} m={m} n={n} k={k}", fn))

    gemm("text projection", item_rows, D, 384, "NT")
    gemm("image projection", item_rows, D, 512, "NT")
    gemm("ffn up", list_rows, 4 * D, D, "NT")
    gemm("text projection dW", D, 384, item_rows, "TN")
    gemm("list d×d", list_rows, D, D, "NT")
    gemm("list d×d dW", D, D, list_rows, "TN")
    big = r(1024, 1024), r(1024, 1024)
    out.append(("gemm", "large square NN m=1024 n=1024 k=1024", lambda: big[0] @ big[1]))

    x, g, b = r(item_rows, D).requires_grad_(), r(D).requires_grad_(), r(D).requires_grad_()
    out.append(("layernorm", f"fwd rows={item_rows} d={D}", lambda: F.layer_norm(x, (D,), g, b)))
    y = F.layer_norm(x, (D,), g, b)
    dy = r(item_rows, D)
    out.append(("layernorm", f"bwd rows={item_rows} d={D}",
                lambda: torch.autograd.grad(y, (x, g, b), dy, retain_graph=True)))

    h, hb = r(list_rows, 4 * D).requires_grad_(), r(4 * D).requires_grad_()
    out.append(("bias+gelu", f"fwd rows={list_rows} cols={4 * D}", lambda: F.gelu(h + hb)))
    z = F.gelu(h + hb)
    dz = r(list_rows, 4 * D)
    out.append(("bias+gelu", f"bwd rows={list_rows} cols={4 * D}",
                lambda: torch.autograd.grad(z, (h, hb), dz, retain_graph=True)))

    for tag, lk in (("behaviour", L), ("list", K)):
        q = r(B, H, K, D // H).requires_grad_()
        k, v = r(B, H, lk, D // H).requires_grad_(), r(B, H, lk, D // H).requires_grad_()
        m = key_mask(B, lk, gen, device)
        # A request without keys attends to all of them and is zeroed after (as torch_armmt.py),
        # so SDPA never sees an all-masked row (NaN).
        any_key = m.any(1)
        mm = (m | ~any_key[:, None])[:, None, None, :]
        keep = any_key[:, None, None, None].to(q.dtype)
        shape = f"B={B} Lq={K} Lk={lk} H={H} dh={D // H} {tag}"
        out.append(("attention", "fwd " + shape, lambda q=q, k=k, v=v, mm=mm, keep=keep:
                    F.scaled_dot_product_attention(q, k, v, attn_mask=mm) * keep))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mm) * keep
        do = r(*o.shape)
        out.append(("attention", "bwd " + shape, lambda o=o, q=q, k=k, v=v, do=do:
                    torch.autograd.grad(o, (q, k, v), do, retain_graph=True)))

    # Losses as armmt-gpu's bench: 256 lists of K = 32, T = 2 targets weighted (1, 0.5), graded
    # labels (10% in {1, 2, 3}), list i keeps its first K − i % 5 items. Each row is the loss and
    # its gradient (armmt-gpu's op returns both).
    t = 2
    logits = (r(list_rows, t) * 4).requires_grad_()
    labels = torch.where(torch.rand(list_rows, t, generator=gen) < 0.1,
                         torch.randint(1, 4, (list_rows, t), generator=gen).float(), torch.zeros(list_rows, t)).to(device)
    keep = (torch.arange(K)[None, :] < (K - torch.arange(B) % 5)[:, None]).reshape(-1).to(device)
    weights = torch.tensor([1.0, 0.5], device=device)

    def bce():
        per = F.binary_cross_entropy_with_logits(logits, (labels > 0).float(), reduction="none")
        loss = ((per * keep[:, None]).sum(0) / keep.sum() * weights).sum()
        return torch.autograd.grad(loss, logits)

    def listwise():
        x, m = logits.view(B, K, t), keep.view(B, K, 1)
        logp = F.log_softmax(x.masked_fill(~m, float("-inf")), dim=1)
        gains = torch.where(m & (labels.view(B, K, t) > 0), torch.exp2(labels.view(B, K, t)) - 1, torch.zeros(()))
        total = gains.sum(1, keepdim=True)
        kept = total > 0
        per_list = -torch.where(m, gains / total.clamp_min(1e-30) * logp, torch.zeros(())).sum(1)
        loss = ((per_list * kept[:, 0]).sum(0) / kept.sum((0, 1)).clamp_min(1) * weights).sum()
        return torch.autograd.grad(loss, logits)

    shape = f"lists={B} K={K} T={t}"
    out.append(("bce", shape, bce))
    out.append(("listwise_ce", shape, listwise))

    # The optimizer over 1M parameters: the global norm (what clip_grad_norm_ computes before it
    # scales; armmt-gpu hands the scale to AdamW instead) and one AdamW step, as torch.optim runs
    # it by default and with fused=True.
    n = 1 << 20
    grad = r(n)
    out.append(("grad_norm", "1M params", lambda: torch.linalg.vector_norm(grad)))
    for fused in (None, True):
        param = torch.nn.Parameter(r(n))
        param.grad = grad.clone()
        opt = torch.optim.AdamW([param], lr=1e-3, fused=fused)
        out.append(("adamw", "1M params" + (" fused" if fused else ""), opt.step))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument("--tf32", choices=["on", "off"], default="off")
    p.add_argument("--op", help="only ops whose name contains this text")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(1)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rows = []
    for op, shape, fn in cases(device, gen):
        if a.op and a.op not in op:
            continue
        rows.append(dict(op=op, shape=shape, median_us=timeit(fn, sync)))
    if a.json:
        print(json.dumps(dict(torch=torch.__version__, device=name, threads=torch.get_num_threads(),
                              tf32=a.tf32 if device.type == "cuda" else "n/a", rows=rows)))
        return
    print(f"torch {torch.__version__} on {name}, threads {torch.get_num_threads()}, "
          f"tf32 {a.tf32 if device.type == 'cuda' else 'n/a'}")
    for row in rows:
        print(f"{row['op']:10} {row['shape']:48} {row['median_us']:12.1f} us")


if __name__ == "__main__":
    main()
