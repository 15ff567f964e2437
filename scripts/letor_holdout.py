#!/usr/bin/env python3
"""Split a LETOR/SVMlight file with a LightGBM .query file into train and validation parts by
whole query groups: the last FRACTION of the groups (file order) become validation. Deterministic,
standard library only. Model selection then never looks at the test file.

    python3 scripts/letor_holdout.py rank.train rank.train.query OUT_DIR [--fraction 0.2]
writes OUT_DIR/{train,valid}.txt and OUT_DIR/{train,valid}.query.
"""
import argparse
import os
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("query")
    ap.add_argument("out")
    ap.add_argument("--fraction", type=float, default=0.2)
    a = ap.parse_args()
    if not 0 < a.fraction < 1:
        print(f"error: --fraction {a.fraction} must be in (0, 1)", file=sys.stderr)
        return 2
    with open(a.query) as f:
        groups = [int(line) for line in f if line.strip()]
    with open(a.data) as f:
        lines = [line for line in f if line.strip()]
    if sum(groups) != len(lines):
        print(f"error: {a.query} counts {sum(groups)} documents, {a.data} has {len(lines)}", file=sys.stderr)
        return 1
    n_valid = max(1, round(len(groups) * a.fraction))
    cut_groups = len(groups) - n_valid
    cut_lines = sum(groups[:cut_groups])
    os.makedirs(a.out, exist_ok=True)
    for name, gs, ls in (("train", groups[:cut_groups], lines[:cut_lines]),
                         ("valid", groups[cut_groups:], lines[cut_lines:])):
        with open(os.path.join(a.out, f"{name}.txt"), "w") as f:
            f.writelines(ls)
        with open(os.path.join(a.out, f"{name}.query"), "w") as f:
            f.writelines(f"{g}\n" for g in gs)
        print(f"{name}: {len(gs)} groups, {len(ls)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
