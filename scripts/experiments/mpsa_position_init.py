#!/usr/bin/env python3
"""PyTorch prototype (scripts/torch_armmt.py): does MPSA learn the cheaper-near-duplicate term when
the position embedding does not dominate its attention scores? (RESULTS.md, "CAFU and MPSA")

Trains the default model (or `--mpsa off`) with AdamW, lr 6e-3 with cosine decay to 0 (the
engine's recipe), batch 128, clip 1, for EPOCHS epochs; `--pos-std S` re-initialises
`position_emb` to N(0, S²) instead of N(0, 1) (S = 1: as specified). Keeps the epoch with the best
validation purchase AUC, scores the test split with it, and prints test AUC and the coefficients of
the model's logit on the six terms of the true logit (as scripts/terms_regression.py).

`--mpsa-qk r` takes the perspectives' queries and keys from r (the engine's switch);
`--exclude-self` (prototype only, not in the engine) masks each candidate's own key in MPSA, so
a head can attend to a near-duplicate without attending to the candidate itself.

    python3 scripts/experiments/mpsa_position_init.py DATA_DIR TERMS.csv [--pos-std 0.02] [--mpsa off]
        [--mpsa-qk r] [--exclude-self] [--epochs 5] [--seed 1] [--threads 2]
"""
import argparse
import copy
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_armmt as ta  # noqa: E402
from terms_regression import TERMS  # noqa: E402


def attend_excluding_self(q, k, v, key_mask, heads):
    """ta.attend with each query's own key masked as well (a candidate alone in its list attends
    to nothing and gets 0)."""
    L = q.shape[1]
    return ta.attend(q, k, v, key_mask[:, None, :] & ~torch.eye(L, dtype=torch.bool)[None], heads)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("terms")
    p.add_argument("--pos-std", type=float, default=1.0)
    p.add_argument("--mpsa", default="multi")
    p.add_argument("--mpsa-qk", default="h", choices=["h", "r"])
    p.add_argument("--exclude-self", action="store_true")
    # The runs RESULTS.md reports predate the aux_input switch: their auxiliary head read r only.
    p.add_argument("--aux-input", default="r", choices=["r", "r_product"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=6e-3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = ta.Dataset(a.data)
    if a.exclude_self:
        ta.MPSABlock.attend = staticmethod(attend_excluding_self)
    model = ta.ARMMT({"mpsa": a.mpsa, "mpsa_qk": a.mpsa_qk, "aux_input": a.aux_input, "seed": a.seed}, data.dims)
    with torch.no_grad():
        model.position_emb.weight.normal_(0, a.pos_std)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    n = data.split("train")["candidates"].shape[0]
    batch = 128
    steps_per_epoch = math.ceil(n / batch)
    total = steps_per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    g = torch.Generator().manual_seed(a.seed)
    best, best_state = -1.0, None
    purchase = data.schema["targets"].index("purchase")
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, batch):
            b = data.batch("train", perm[s:s + batch])
            opt.zero_grad(set_to_none=True)
            model.losses(b, data.main_target)[0].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        _, aucs, _ = ta.evaluate(model, data, "valid", 512, "cpu")
        print(f"epoch {epoch}: valid purchase AUC {aucs[purchase]:.4f}", flush=True)
        if aucs[purchase] > best:
            best, best_state = aucs[purchase], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    sp = data.split("test")
    logits = ta.predict(model, data, "test", sp["candidates"].shape[0], 512, "cpu")[..., purchase].numpy()
    valid = (sp["candidates"] >= 0).numpy()
    logit = logits[valid]
    terms = np.genfromtxt(a.terms, delimiter=",", names=True)
    y = terms["purchase"]
    x = np.column_stack([terms[t] for t in TERMS] + [np.ones(len(y))])
    coef = np.linalg.lstsq(x, logit, rcond=None)[0]
    print(f"best valid AUC {best:.4f}; test purchase AUC {ta.auc(logit, y):.4f}; coefficients: "
          + ", ".join(f"{t} {c:.3f}" for t, c in zip(TERMS, coef)))


if __name__ == "__main__":
    main()
