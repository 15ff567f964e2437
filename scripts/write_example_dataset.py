#!/usr/bin/env python3
"""Write a small, valid armmt-gpu data set from numpy (the example in docs/DATA.md).

Usage: python3 scripts/write_example_dataset.py OUT_DIR [--seed S]
Needs numpy and safetensors (pip install numpy safetensors, or apt install python3-numpy).
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
rng = np.random.default_rng(args.seed)
os.makedirs(args.out, exist_ok=True)

I, D_t, D_v, D_q = 50, 8, 6, 4           # items, text/image/query widths
K_max, L_max = 5, 3                      # candidates and behaviours per request
categorical = [{"name": "category", "vocab": 7}, {"name": "brand", "vocab": 11}]
user_features = [{"name": "age_bucket", "vocab": 4}]
targets = ["click", "purchase"]

# Item table: every item once. float16 vectors are fine (widened on load).
save_file({
    "text": rng.standard_normal((I, D_t)).astype(np.float16),
    "image": rng.standard_normal((I, D_v)).astype(np.float32),
    "has_text": np.ones(I, dtype=np.uint8),
    "has_image": (rng.random(I) > 0.1).astype(np.uint8),        # some items lack an image
    "categorical": np.stack([rng.integers(0, f["vocab"], I) for f in categorical], 1).astype(np.int32),
    "dense": rng.standard_normal((I, 2)).astype(np.float32),   # price, sales
}, os.path.join(args.out, "items.safetensors"))

def write_split(path, n):
    lengths = rng.integers(1, K_max + 1, n)                    # 1..K_max valid candidates
    cand = np.full((n, K_max), -1, dtype=np.int32)             # -1 = padding
    beh = np.full((n, L_max), -1, dtype=np.int32)
    for r in range(n):
        cand[r, :lengths[r]] = rng.choice(I, lengths[r], replace=False)
        nb = rng.integers(0, L_max + 1)                        # may be empty
        beh[r, :nb] = rng.integers(0, I, nb)
    click = (rng.random((n, K_max)) < 0.3).astype(np.float32)
    buy = click * (rng.random((n, K_max)) < 0.3)
    valid = (cand >= 0)[..., None]
    position = np.broadcast_to(np.arange(K_max, dtype=np.float32) / (K_max - 1), (n, K_max))
    save_file({
        "candidates": cand,
        "list_features": np.stack([position, rng.standard_normal((n, K_max))], -1).astype(np.float32) * valid,
        "labels": np.stack([click, buy], -1).astype(np.float32) * valid,
        "behaviours": beh,
        "query": rng.standard_normal((n, D_q)).astype(np.float32),
        "user": rng.integers(0, 4, (n, 1)).astype(np.int32),
        "request_id": np.arange(n, dtype=np.int64),
    }, os.path.join(args.out, path))

write_split("train.safetensors", 40)
write_split("valid.safetensors", 10)

schema = {
    "format": "armmt-data", "format_version": 1,
    "dims": {"text": D_t, "image": D_v, "query": D_q, "k_max": K_max, "l_max": L_max},
    "items": I, "items_file": "items.safetensors",
    "item_categorical": categorical, "item_dense": ["price", "sales"],
    "user_features": user_features, "list_features": ["position", "prior_score"],
    "targets": targets, "main_target": "purchase",
    "splits": [{"name": "train", "files": ["train.safetensors"]},
               {"name": "valid", "files": ["valid.safetensors"]}],
}
with open(os.path.join(args.out, "schema.json"), "w") as f:
    json.dump(schema, f, indent=2)
