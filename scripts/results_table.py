#!/usr/bin/env python3
"""Builds the RESULTS.md table from scripts/results_synth.sh's run directory: test metrics of the
main target per config, mean ± sample std over the seeds that have finished, the oracle's row
(from the stored true probabilities), and the share of the prm→oracle AUC gap each config closes.

    python3 scripts/results_table.py runs/synth
"""
import glob
import json
import os
import statistics as st
import sys

ORDER = ["full", "text-only", "image-only", "no-modalities", "fusion-concat", "fusion-mean",
         "no-behaviour-attention", "mpsa-single", "mpsa-off", "no-interaction", "no-auxiliary-task", "prm-preset"]
KEYS = ["auc", "gauc", "ndcg@10", "loss"]  # "loss": log loss of the main-target logits


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{st.mean(values):.4f} ± {st.stdev(values):.4f}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/synth"
    target = json.load(open(os.path.join(out, "data", "schema.json")))["main_target"]
    rows, oracle = {}, None
    for slug in ORDER:
        reports = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, slug, "seed*.test.json")))]
        if not reports:
            continue
        vals = {k: [] for k in KEYS}
        for r in reports:
            m = r["targets"][target]
            for k in KEYS:
                vals[k].append(m[k])
            oracle = r.get("oracle", {}).get(target, oracle)
        rows[slug] = vals
    print(f"Main target: {target}. Test split; mean ± std over seeds (n per row).\n")
    print("| config | n | AUC | GAUC | NDCG@10 | log loss | share of prm→oracle AUC gap closed |")
    print("|---|---:|---|---|---|---|---:|")
    prm = st.mean(rows["prm-preset"]["auc"]) if "prm-preset" in rows else None
    o_auc = oracle["auc"] if oracle else None
    for slug, v in rows.items():
        gap = ""
        if prm is not None and o_auc is not None and o_auc > prm:
            gap = f"{(st.mean(v['auc']) - prm) / (o_auc - prm) * 100:.0f}%"
        print(f"| {slug.replace('-', ' ')} | {len(v['auc'])} | " + " | ".join(fmt(v[k]) for k in KEYS) + f" | {gap} |")
    if oracle:
        print(f"| oracle (true probabilities) | – | {oracle['auc']:.4f} | {oracle['gauc']:.4f} | "
              f"{oracle['ndcg@10']:.4f} | {oracle['loss']:.4f} | 100% |")


if __name__ == "__main__":
    main()
