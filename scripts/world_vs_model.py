#!/usr/bin/env python3
"""CAFU and MPSA on the synthetic benchmark: does the world reward them, and does the model use them?

Inputs: the data set, `armmt-gpu data oracle-probe --terms-out TERMS.csv` for it, and a folder of
`armmt-gpu predict --split test --explain` outputs named CONFIG-sSEED.csv (e.g. full-s1.csv,
fusion-mean-s2.csv, mpsa-off-s3.csv). The hidden w_c and item families come from
scripts/synth_world.py (a replay of the generator's random streams, checked against the item table).

CAFU (the context-aware gate between text and image):
- world: test AUC of the true logit, and of the true logit with w_c replaced by one weight for all
  categories (the mean w_c), or by the mean of its group (fashion-like = even categories,
  electronics-like = odd), so the drop is what a category-dependent text/image weighting is worth;
- gate: the item and personalized units' image weight α_image against the candidate category's w_c
  (means per group, correlation over candidates and over the 24 category means);
- head: for each category, the model's logit regressed on 3·⟨s, τ⟩, 1.8·q and the other four terms;
  the world's coefficients are w_c and 1 − w_c. Slope and correlation of the fitted coefficients
  against the world's over the 24 categories, per config and seed.

MPSA (list-wise self-attention) and the cheaper near-duplicate term −1.2·[a cheaper near-duplicate
is in the list]:
- world: how often the term fires; how alike a candidate and its near-duplicate look (cosine of the
  text and image vectors, against other same-category pairs in the same lists); an observable proxy
  of the indicator from the inputs only (another candidate of the list with text cosine > 0.92 and
  image cosine > 0.85, only the one both have if one is missing, and a stored log_price lower by more
  than 0.05, the world's threshold); test AUC of the
  true logit with the indicator, without it, and with the proxy in its place;
- models: the term's coefficient in the regression of the logit on the six terms (as
  scripts/terms_regression.py), and purchase AUC on the odd test requests of a logistic regression
  fitted on the even ones, of the model's logit alone and with the proxy added.

    python3 scripts/world_vs_model.py DATA_DIR TERMS.csv PRED_DIR
"""
import glob
import os
import re
import sys

import numpy as np
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_world import cheaper_twin, load_world  # noqa: E402
from terms_regression import TERMS, auc, logistic  # noqa: E402

TEXT_COS, IMAGE_COS, PRICE_GAP = 0.92, 0.85, 0.05


def test_split(data):
    import json
    schema = json.load(open(os.path.join(data, "schema.json")))
    files = next(s["files"] for s in schema["splits"] if s["name"] == "test")
    parts = [load_file(os.path.join(data, f)) for f in files]
    return np.concatenate([p["candidates"] for p in parts])


def twin_proxy(cand, items):
    """[N, K] bool from the inputs only: a near-identical other candidate with a lower log_price."""
    txt, img = items["text"].astype(np.float32), items["image"].astype(np.float32)
    ht, hi = items["has_text"] > 0, items["has_image"] > 0
    lp = items["dense"][:, 0] * 1.2 + 4  # stored as (log_price − 4) / 1.2
    out = np.zeros(cand.shape, bool)
    for r in range(cand.shape[0]):
        c = cand[r][cand[r] >= 0]
        both_t = ht[c][:, None] & ht[c][None, :]
        both_i = hi[c][:, None] & hi[c][None, :]
        near_t, near_i = txt[c] @ txt[c].T > TEXT_COS, img[c] @ img[c].T > IMAGE_COS
        near = np.where(both_t & both_i, near_t & near_i, np.where(both_t, near_t, both_i & near_i))
        np.fill_diagonal(near, False)
        out[r, :len(c)] = (near & (lp[c][None, :] < lp[c][:, None] - PRICE_GAP)).any(1)
    return out


def pair_cosines(cand, items, family, category, requests=2000):
    txt, img = items["text"].astype(np.float32), items["image"].astype(np.float32)
    ht, hi = items["has_text"] > 0, items["has_image"] > 0
    res = {k: [] for k in ("text twin", "text other", "image twin", "image other")}
    for r in range(min(requests, cand.shape[0])):
        c = cand[r][cand[r] >= 0]
        twin = family[c][:, None] == family[c][None, :]
        other = (category[c][:, None] == category[c][None, :]) & ~twin
        off = ~np.eye(len(c), dtype=bool)
        for name, vec, has in (("text", txt, ht), ("image", img, hi)):
            cos = vec[c] @ vec[c].T
            ok = off & has[c][:, None] & has[c][None, :]
            res[name + " twin"].append(cos[twin & ok])
            res[name + " other"].append(cos[other & ok])
    return {k: np.concatenate(v) for k, v in res.items()}


def regress(y, cols):
    x = np.column_stack(cols + [np.ones_like(y)])
    return np.linalg.lstsq(x, y, rcond=None)[0]


def main():
    data, terms_csv, pred_dir = sys.argv[1:4]
    w = load_world(data)
    items = load_file(os.path.join(data, "items.safetensors"))
    cand = test_split(data)
    valid = cand >= 0
    item = cand[valid]
    terms = np.genfromtxt(terms_csv, delimiter=",", names=True)
    y = terms["purchase"]
    reqs = terms["request_id"].astype(np.int64)
    even, odd = reqs % 2 == 0, reqs % 2 == 1
    wc = w["reliance"][w["category"][item]].astype(np.float64)
    fashion = w["category"][item] % 2 == 0
    twin = cheaper_twin(cand, w["family"], w["log_price"])[valid]
    if not (twin == (terms["cheaper_twin"] < 0)).all():
        sys.exit("world_vs_model: the replayed world does not match TERMS.csv (other data seed or size?)")
    style_raw = terms["style"] / (3 * wc)        # ⟨s, τ⟩
    quality_raw = terms["quality"] / (1.8 * (1 - wc))  # q
    eta = -3.2 + sum(terms[n] for n in TERMS)
    rest = eta - terms["style"] - terms["quality"]

    preds = {}
    for path in sorted(glob.glob(os.path.join(pred_dir, "*-s*.csv"))):
        m = re.match(r"(.+)-s(\d+)\.csv$", os.path.basename(path))
        p = np.genfromtxt(path, delimiter=",", names=True)
        if len(p) != len(terms) or not (p["request_id"] == terms["request_id"]).all():
            sys.exit(f"world_vs_model: {path} does not hold the test candidates in TERMS.csv's order")
        preds.setdefault(m.group(1), {})[int(m.group(2))] = p

    print("== CAFU: world ==")
    print(f"w_c: fashion-like mean {w['reliance'][0::2].mean():.3f}, electronics-like mean {w['reliance'][1::2].mean():.3f}")
    for name, wv in (("true w_c", wc),
                     ("one w for all categories (mean w_c)", np.full_like(wc, w["reliance"].mean())),
                     ("w = mean of the category's group", np.where(fashion, w["reliance"][0::2].mean(), w["reliance"][1::2].mean()))):
        e = rest + wv * 3 * style_raw + (1 - wv) * 1.8 * quality_raw
        print(f"  oracle with {name:38} test AUC {auc(e, y):.4f}")
    mean_w = w["reliance"].mean()
    e = rest + mean_w * 3 * style_raw + terms["quality"]
    print(f"  oracle with {'one w in the style term only':38} test AUC {auc(e, y):.4f}")
    e = rest + terms["style"] + (1 - mean_w) * 1.8 * quality_raw
    print(f"  oracle with {'one w in the quality term only':38} test AUC {auc(e, y):.4f}")

    print("== CAFU: the gate's image weight against w_c (candidate's category) ==")
    for cfg, seeds in sorted(preds.items()):
        if "item_alpha_image" not in seeds[min(seeds)].dtype.names:
            continue
        for s, p in sorted(seeds.items()):
            out = [f"{cfg} seed {s}:"]
            for unit in ("item", "personal"):
                a = p[unit + "_alpha_image"]
                ok = (p[unit + "_alpha_text"] + a) > 0  # both 0: no modality present (no behaviours)
                ok &= (a > 0) & (a < 1)  # a candidate with one modality has α = 1 for it
                cat_means = np.array([a[ok & (w["category"][item] == c)].mean() for c in range(len(w["reliance"]))])
                out.append(f"{unit} α_image fashion {a[ok & fashion].mean():.3f} electronics {a[ok & ~fashion].mean():.3f} "
                           f"(range of category means {cat_means.min():.3f}–{cat_means.max():.3f}), "
                           f"corr with w_c {np.corrcoef(a[ok], wc[ok])[0, 1]:+.3f} over candidates, "
                           f"{np.corrcoef(cat_means, w['reliance'])[0, 1]:+.3f} over categories")
            print("  " + "\n    ".join(out))

    print("== CAFU: per-category weights of style and quality in the model's logit (world: w_c and 1 − w_c) ==")
    others = [terms[n] for n in TERMS if n not in ("style", "quality")]
    for cfg in ("full", "fusion-mean", "fusion-concat"):
        for s, p in sorted(preds.get(cfg, {}).items()):
            a_c, b_c = [], []
            for c in range(len(w["reliance"])):
                m = w["category"][item] == c
                coef = regress(p["purchase"][m], [3 * style_raw[m], 1.8 * quality_raw[m]] + [o[m] for o in others])
                a_c.append(coef[0])
                b_c.append(coef[1])
            a_c, b_c, wr = np.array(a_c), np.array(b_c), w["reliance"].astype(np.float64)
            print(f"  {cfg:13} seed {s}: style coef fashion {a_c[0::2].mean():.3f} electronics {a_c[1::2].mean():.3f} "
                  f"(slope on w_c {np.polyfit(wr, a_c, 1)[0]:.3f}, corr {np.corrcoef(wr, a_c)[0, 1]:+.3f}); "
                  f"quality coef fashion {b_c[0::2].mean():.3f} electronics {b_c[1::2].mean():.3f} "
                  f"(slope on 1−w_c {np.polyfit(1 - wr, b_c, 1)[0]:.3f}, corr {np.corrcoef(1 - wr, b_c)[0, 1]:+.3f})")

    print("== MPSA: world ==")
    lists_with = sum(twin_l.any() for twin_l in cheaper_twin(cand, w["family"], w["log_price"]))
    print(f"  candidates with a cheaper near-duplicate in the list: {twin.mean():.3f} (purchase rate {y[twin].mean():.3f} vs "
          f"{y[~twin].mean():.3f} without); lists with one: {lists_with / cand.shape[0]:.3f}")
    cos = pair_cosines(cand, items, w["family"], w["category"])
    for mod in ("text", "image"):
        a, b = cos[mod + " twin"], cos[mod + " other"]
        print(f"  {mod} cosine, near-duplicate pairs (n={len(a)}): 1% quantile {np.quantile(a, 0.01):.3f}, median {np.median(a):.3f}; "
              f"other same-category pairs (n={len(b)}): median {np.median(b):.3f}, 99.9% quantile {np.quantile(b, 0.999):.3f}")
    proxy = twin_proxy(cand, items)[valid]
    print(f"  proxy from inputs: recall {proxy[twin].mean():.4f}, precision {twin[proxy].mean():.4f}")
    print(f"  oracle test AUC: with the term {auc(eta, y):.4f}; without {auc(eta - terms['cheaper_twin'], y):.4f}; "
          f"with the proxy in its place {auc(eta - terms['cheaper_twin'] + terms['cheaper_twin'].min() * proxy, y):.4f}")

    print("== MPSA: models ==")
    x6 = np.column_stack([terms[n] for n in TERMS] + [np.ones(len(y))])
    ones = np.ones(len(y))
    for cfg in sorted(preds):
        for s, p in sorted(preds[cfg].items()):
            logit = p["purchase"]
            coef = np.linalg.lstsq(x6, logit, rcond=None)[0]
            base = logistic(np.column_stack([logit, ones]), y, even)
            plus = logistic(np.column_stack([logit, ones, proxy.astype(float)]), y, even)
            print(f"  {cfg:13} seed {s}: test AUC {auc(logit, y):.4f}; cheaper-twin coef {coef[TERMS.index('cheaper_twin')]:.3f}; "
                  f"odd requests: model {auc(base[odd], y[odd]):.4f}, model + proxy {auc(plus[odd], y[odd]):.4f}")


if __name__ == "__main__":
    main()
