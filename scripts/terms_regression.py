#!/usr/bin/env python3
"""Which terms of the synthetic world's purchase logit has a model learned?

Joins `armmt-gpu data oracle-probe --terms-out TERMS.csv` with `armmt-gpu predict --out PRED.csv`
(same split, same row order), regresses the model's purchase logit on the six terms of the true
logit η, and prints each term's coefficient (1.0 = weighted as in the world) and its partial
correlation with the logit (the term's unique share, the other terms held out). Then it adds one
hand-made feature that the world's style × taste term suggests, the raw image match
⟨image_c, S⟩ / (1 + |S|) with S the sum of the behaviours' image vectors, with one weight per
category, to the model's logit in a logistic regression fitted on the even requests, and reports
the purchase AUC on the odd requests with and without it: if it rises, the signal is in the
inputs and the model has not extracted it.

    python3 scripts/terms_regression.py DATA_DIR TERMS.csv PRED.csv
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file

TERMS = ["category_match", "style", "quality", "price", "cheaper_twin", "position_term"]


def auc(s, labels):
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    # mid-ranks for ties
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    p = labels > 0
    return (ranks[p].sum() - p.sum() * (p.sum() + 1) / 2) / (p.sum() * (~p).sum())


def raw_image_match(data):
    items = load_file(os.path.join(data, "items.safetensors"))
    img = items["image"].astype(np.float32)
    has = items["has_image"]
    category = items["categorical"][:, 0]
    schema = json.load(open(os.path.join(data, "schema.json")))
    files = next(s["files"] for s in schema["splits"] if s["name"] == "test")
    feats, cats, reqs, base = [], [], [], 0
    for f in files:
        t = load_file(os.path.join(data, f))
        cand, beh = t["candidates"], t["behaviours"]
        for r in range(cand.shape[0]):
            b = beh[r][beh[r] >= 0]
            b = b[has[b] > 0]
            s = img[b].sum(0) if len(b) else np.zeros(img.shape[1], np.float32)
            n = float(np.linalg.norm(s))
            for c in cand[r][cand[r] >= 0]:
                feats.append(float(img[c] @ s) / (1 + n))
                cats.append(category[c])
                reqs.append(base + r)
        base += cand.shape[0]
    return np.array(feats), np.array(cats), np.array(reqs)


def logistic(x, y, fit_rows, iters=300):
    """Plain Newton iterations for a small logistic regression (no extra dependency)."""
    w = np.zeros(x.shape[1])
    xf, yf = x[fit_rows], y[fit_rows]
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(xf @ w)))
        g = xf.T @ (p - yf)
        h = (xf * (p * (1 - p))[:, None]).T @ xf + 1e-6 * np.eye(x.shape[1])
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return x @ w


def main():
    data, terms_csv, pred_csv = sys.argv[1:4]
    terms = np.genfromtxt(terms_csv, delimiter=",", names=True)
    pred = np.genfromtxt(pred_csv, delimiter=",", names=True)
    if len(terms) != len(pred) or not (terms["request_id"] == pred["request_id"]).all() \
            or not (terms["position"] == pred["position"]).all():
        sys.exit("terms_regression: the two CSV files do not hold the same candidates in the same order")
    logit = pred["purchase"]
    ones = np.ones_like(logit)
    x = np.stack([terms[n] for n in TERMS] + [ones], 1)
    coef, *_ = np.linalg.lstsq(x, logit, rcond=None)
    resid = logit - x @ coef
    eta = x[:, :6].sum(1)
    print(f"model logit ~ the six terms: R^2 {1 - resid.var() / logit.var():.3f}, corr(logit, eta) {np.corrcoef(logit, eta)[0, 1]:.3f}")
    print(f"{'term':16} {'coefficient':>11} {'partial corr':>12}")
    for i, name in enumerate(TERMS):
        others = np.delete(x, i, axis=1)
        ry = logit - others @ np.linalg.lstsq(others, logit, rcond=None)[0]
        rt = terms[name] - others @ np.linalg.lstsq(others, terms[name], rcond=None)[0]
        print(f"{name:16} {coef[i]:11.3f} {np.corrcoef(ry, rt)[0, 1]:12.3f}")

    y = terms["purchase"]
    feat, cats, reqs = raw_image_match(data)
    per_cat = np.zeros((len(feat), cats.max() + 1))
    per_cat[np.arange(len(feat)), cats] = feat
    fit, held = reqs % 2 == 0, reqs % 2 == 1
    base = logistic(np.stack([logit, ones], 1), y, fit)
    plus = logistic(np.column_stack([logit, ones, per_cat]), y, fit)
    print(f"purchase AUC on odd requests: model {auc(base[held], y[held]):.4f}; "
          f"model + raw image match per category {auc(plus[held], y[held]):.4f}")


if __name__ == "__main__":
    main()
