#!/usr/bin/env python3
"""A copy of a `data synth` data set whose cheaper-near-duplicate term is SCALE times the world's.

For a diagnostic only (RESULTS.md, "CAFU and MPSA: world or model"): can the model learn the
within-list comparison when the world pays more for it? The generator is not changed. Inputs
(items, candidates, behaviours, queries, list features) are the same bytes. Only the labels and
`oracle` of candidates that have a cheaper near-duplicate in their list change: their purchase
logit becomes η + (SCALE − 1)·(−1.2), and their drawn labels are thinned to match (a click is kept
with probability σ(η′ + 2) / σ(η + 2), a purchase of a kept click with the ratio of
P(purchase | click) new to old, which is ≤ 1), so every other label is the one `data synth` drew.
The indicator comes from scripts/synth_world.py (the world's families and log prices).
Also writes OUT.terms.csv: TERMS.csv with the scaled term and the new purchase labels.

    python3 scripts/twin_world.py DATA_DIR TERMS.csv OUT_DIR [SCALE=4]
"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_world import cheaper_twin, load_world  # noqa: E402


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def main():
    data, terms_csv, out = sys.argv[1:4]
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
    shift = (scale - 1) * -1.2
    w = load_world(data)
    schema = json.load(open(os.path.join(data, "schema.json")))
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(data, schema.get("items_file", "items.safetensors")),
                    os.path.join(out, schema.get("items_file", "items.safetensors")))
    click_t, buy_t = schema["targets"].index("click"), schema["targets"].index("purchase")
    rng = np.random.default_rng(12345)
    new_test_labels = []
    for split in schema["splits"]:
        for f in split["files"]:
            t = load_file(os.path.join(data, f))
            cand = t["candidates"]
            ind = cheaper_twin(cand, w["family"], w["log_price"])
            orc = np.clip(t["oracle"].astype(np.float64), 1e-12, 1 - 1e-12)  # padding slots hold 0
            eta = np.log(orc[..., buy_t]) - np.log1p(-orc[..., buy_t])
            eta2 = eta + shift * ind
            p_click, p_buy = sigmoid(eta + 2), sigmoid(eta)
            p_click2, p_buy2 = sigmoid(eta2 + 2), sigmoid(eta2)
            labels = t["labels"].copy()
            keep_click = rng.random(cand.shape) < p_click2 / p_click
            keep_buy = rng.random(cand.shape) < (p_buy2 / p_click2) / (p_buy / p_click)
            click = labels[..., click_t] > 0
            buy = labels[..., buy_t] > 0
            new_click = np.where(ind, click & keep_click, click)
            new_buy = np.where(ind, buy & keep_click & keep_buy, buy)
            labels[..., click_t] = new_click
            labels[..., buy_t] = new_buy
            oracle = t["oracle"].copy()
            oracle[..., click_t] = p_click2
            oracle[..., buy_t] = p_buy2
            t["labels"], t["oracle"] = labels.astype(t["labels"].dtype), oracle.astype(t["oracle"].dtype)
            save_file(t, os.path.join(out, f))
            valid = cand >= 0
            print(f"{f}: {ind[valid].mean():.3f} of candidates have the term; purchases {buy[valid].sum()} -> {new_buy[valid].sum()}")
            if split["name"] == "test":
                new_test_labels.append(new_buy[valid])
    schema.setdefault("source", {})["twin_world"] = f"cheaper near-duplicate term x{scale:g} (scripts/twin_world.py)"
    json.dump(schema, open(os.path.join(out, "schema.json"), "w"), indent=2)

    lines = open(terms_csv).read().splitlines()
    head = lines[0].split(",")
    ti, pi = head.index("cheaper_twin"), head.index("purchase")
    labels = np.concatenate(new_test_labels)
    rows = [lines[0]]
    for line, lab in zip(lines[1:], labels):
        v = line.split(",")
        v[ti] = repr(float(v[ti]) * scale)
        v[pi] = "1" if lab else "0"
        rows.append(",".join(v))
    open(out.rstrip("/") + ".terms.csv", "w").write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
