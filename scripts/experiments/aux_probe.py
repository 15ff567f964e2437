#!/usr/bin/env python3
"""Does the main loss alone align the multimodal representation with the target?

The auxiliary task (ARMMT-SPEC §2, item 6) trains a head on the auxiliary input
[r_item ⊕ r_pers ⊕ c (⊕ r_item ⊙ r_pers)] to predict the main target, so that this input is
aligned with it. If a model trained without the task already has an input a fresh head can read
the target from as well, the task has nothing left to align.

For each checkpoint: load it into the PyTorch mirror (scripts/torch_armmt.py), freeze it, take the
auxiliary input of every valid candidate of the first N training requests and of the test split,
fit a fresh head of the auxiliary head's shape (4d or 3d → d → 1, ReLU; Adam, BCE) on the
training features, and print its test AUC for the main target; beside it the main head's test AUC
and, for a model trained with the task, its own auxiliary head's.

    python3 scripts/experiments/aux_probe.py DATA_DIR CKPT [CKPT ...] [--aux-input r_product|r]
        [--train-requests 20000] [--epochs 4] [--seed 1]

`--aux-input` overrides the checkpoint's switch (the probe's input); a checkpoint of a model with
the task must match its head's width.
"""
import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_armmt as ta  # noqa: E402


def load(path, data, aux_input):
    cfg = ta.checkpoint_config(path)
    if aux_input:
        cfg["aux_input"] = aux_input
    trained_aux = cfg.get("aux_weight", 0.3) > 0
    probe_cfg = dict(cfg, aux_weight=cfg.get("aux_weight") or 0.3)  # builds an aux head to take the input from
    model = ta.ARMMT(probe_cfg, data.dims)
    ta.load_checkpoint(model, path, optional=() if trained_aux else ("aux_head.",))
    model.eval()
    return model, trained_aux


@torch.no_grad()
def features(model, data, split, n, batch=256):
    """(aux input, aux logit, main logit, label) of every valid candidate of the first n requests."""
    grabbed = []
    hook = model.aux_head.fc1.register_forward_pre_hook(lambda m, inp: grabbed.append(inp[0]))
    xs, aux, main, ys = [], [], [], []
    try:
        for s in range(0, n, batch):
            b = data.batch(split, torch.arange(s, min(n, s + batch)))
            logits, a, _, _ = model(b)
            v = b["cand_mask"] > 0
            xs.append(grabbed.pop()[v])
            aux.append(a[..., 0][v])
            main.append(logits[..., data.main_target][v])
            ys.append(b["labels"][..., data.main_target][v])
    finally:
        hook.remove()
    return torch.cat(xs), torch.cat(aux), torch.cat(main), torch.cat(ys)


def fit_probe(x, y, width, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probe = nn.Sequential(nn.Linear(x.shape[1], width), nn.ReLU(), nn.Linear(width, 1))
    opt = torch.optim.Adam(probe.parameters(), lr=1e-3)
    loss = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for s in range(0, x.shape[0], 1024):
            i = perm[s:s + 1024]
            opt.zero_grad()
            loss(probe(x[i])[:, 0], y[i]).backward()
            opt.step()
    return probe


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--aux-input", choices=["r_product", "r"])
    p.add_argument("--train-requests", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    data = ta.Dataset(a.data)
    n_train = min(a.train_requests, data.split("train")["candidates"].shape[0])
    n_test = data.split("test")["candidates"].shape[0]
    print(f"probe: fresh head on the frozen auxiliary input, fitted on {n_train} training requests "
          f"({a.epochs} epochs), scored on the {n_test} test requests")
    for path in a.checkpoints:
        model, trained_aux = load(path, data, a.aux_input)
        xtr, _, _, ytr = features(model, data, "train", n_train)
        xte, aux_te, main_te, yte = features(model, data, "test", n_test)
        # Standardise with the training features' statistics: the probe's Adam sees every input
        # column on one scale, whichever model made it.
        mu, sd = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
        probe = fit_probe((xtr - mu) / sd, ytr, model.d, a.epochs, a.seed)
        with torch.no_grad():
            probe_te = probe((xte - mu) / sd)[:, 0]
        y = yte.numpy()
        row = (f"{path}: input width {xtr.shape[1]}; test AUC main head {ta.auc(main_te.numpy(), y):.4f}, "
               f"probe {ta.auc(probe_te.numpy(), y):.4f}")
        if trained_aux:
            row += f", own aux head {ta.auc(aux_te.numpy(), y):.4f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
