#!/usr/bin/env python3
"""Where does a trained model's MPSA attention go, and what decides it? (RESULTS.md, "CAFU and MPSA")

Loads an engine checkpoint into the PyTorch mirror (scripts/torch_armmt.py; needs torch), scores the
first N test requests, checks the logits against `armmt-gpu predict`'s CSV when one is given, and
reports for the MPSA heads of block 0:
- for candidates that have a near-duplicate (same hidden family, scripts/synth_world.py) in the
  list: the mean attention weight on itself, on its near-duplicates and on each other candidate,
  against the uniform weight 1/n;
- the variance, over the keys of a query, of the parts of the attention score that come from the
  key's r (multimodal representation), e (item features incl. log_price, list features) and pos
  (position embedding), h = r + e + pos: which of them the attention selects on (only r with
  `mpsa_qk = r`).

    python3 scripts/mpsa_attention.py DATA_DIR CHECKPOINT [PRED.csv] [N=1000]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_armmt as ta  # noqa: E402
from synth_world import load_world  # noqa: E402


def main():
    torch.set_num_threads(1)
    data, ckpt = sys.argv[1:3]
    pred = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3].endswith(".csv") else None
    n = int(sys.argv[-1]) if sys.argv[-1].isdigit() else 1000
    w = load_world(data)
    ds = ta.Dataset(data)
    model = ta.ARMMT(ta.checkpoint_config(ckpt), ds.dims)
    ta.load_checkpoint(model, ckpt)
    model.eval()
    if not len(model.mpsa):
        sys.exit("mpsa_attention: this model has no MPSA block")
    block = model.mpsa[0]

    # Capture the block's inputs (u, h_item, h_pers) and the head input parts.
    captured = {}
    orig = ta.MPSABlock.forward

    def fwd(self, u, h_item, h_pers, mask):
        if self is block:
            captured.update(u=u, h_item=h_item, h_pers=h_pers, mask=mask)
        return orig(self, u, h_item, h_pers, mask)

    ta.MPSABlock.forward = fwd
    split = ds.split("test")
    idx = torch.arange(min(n, split["candidates"].shape[0]))
    b = ds.batch("test", idx)
    with torch.no_grad():
        logits, _, _, _ = model(b)
        # pos and e as the model adds them (h = r + e + pos)
        feats = [emb(b["cand_cat"][..., i]) for i, emb in enumerate(model.item_cat_emb)]
        e = model.item_proj(torch.cat(feats + [b["cand_dense"], b["list_features"]], -1))
        K = b["cand_mask"].shape[1]
        pos = model.position_emb.weight[:K][None].expand_as(e)
    cand = split["candidates"][idx].numpy()
    valid = cand >= 0
    if pred:
        p = np.genfromtxt(pred, delimiter=",", names=True, max_rows=int(valid.sum()))
        ours = logits[..., ds.schema["targets"].index("purchase")].numpy()[valid]
        print(f"max |torch logit − predict logit| over {valid.sum()} candidates: {np.abs(ours - p['purchase']).max():.2e}")

    fam = w["family"]
    mask = captured["mask"] > 0
    if block.kind == "multi":
        persp = [("item", block.item, captured["h_item"]), ("pers", block.pers, captured["h_pers"])]
        heads = block.heads // 2
    else:
        persp = [("single", block, captured["u"])]
        heads = block.heads
    for name, mod, h in persp:
        with torch.no_grad():
            q = mod.q_proj(h)
            kw, kb = mod.k_proj.weight, mod.k_proj.bias
            # With mpsa_qk = r the perspective's queries and keys come from r alone.
            from_r = model.cfg["mpsa_qk"] == "r"
            r = None if name == "single" else (h if from_r else h - e - pos)
            B, K, D = q.shape
            dh = D // heads
            qh = q.view(B, K, heads, dh)
            k = mod.k_proj(h).view(B, K, heads, dh)
            scores = torch.einsum("bihd,bjhd->bhij", qh, k) / dh ** 0.5
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
            att = torch.softmax(scores, -1).numpy()  # [B, H, K, K]
            parts = {}
            if r is not None:
                for pname, x in (("r", r),) if from_r else (("r", r), ("e", e), ("pos", pos)):
                    kx = (x @ kw.T).view(B, K, heads, dh)
                    parts[pname] = (torch.einsum("bihd,bjhd->bhij", qh, kx) / dh ** 0.5).numpy()
        for hd in range(heads):
            s_self, s_twin, s_other, s_unif, cnt = 0.0, 0.0, 0.0, 0.0, 0
            for bi in range(B):
                c = cand[bi][valid[bi]]
                m = len(c)
                f = fam[c]
                for i in range(m):
                    twins = (f == f[i]) & (np.arange(m) != i)
                    if not twins.any():
                        continue
                    a = att[bi, hd, i, :m]
                    s_self += a[i]
                    s_twin += a[twins].mean()
                    s_other += a[~twins & (np.arange(m) != i)].mean()
                    s_unif += 1 / m
                    cnt += 1
            line = (f"{name} head {hd}: candidates with a near-duplicate {cnt}; mean attention on self {s_self / cnt:.3f}, "
                    f"per near-duplicate {s_twin / cnt:.3f}, per other candidate {s_other / cnt:.3f} (uniform {s_unif / cnt:.3f})")
            if parts:
                var = {}
                for pname, sc in parts.items():
                    v = []
                    for bi in range(B):
                        mm = valid[bi]
                        x = sc[bi, hd][np.ix_(mm, mm)]
                        v.append(x.var(1).mean())  # variance over keys, mean over queries
                    var[pname] = np.mean(v)
                line += "; score variance over keys from " + ", ".join(f"{k} {v:.3f}" for k, v in var.items())
            print(line)


if __name__ == "__main__":
    main()
