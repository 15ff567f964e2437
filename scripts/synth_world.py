#!/usr/bin/env python3
"""The hidden per-category and per-item quantities of `armmt-gpu data synth`, recomputed in Python.

Replays the generator's random streams (Sources/ARMMTGPU/Util/SeededRandom.swift: xoshiro256**
seeded by splitmix64; SynthWorld.stream keyed by (seed, tag, id)) in the same order as
Sources/ARMMTGPU/Data/SynthWorld.swift, with float32 arithmetic where Swift uses Float:

- w_c, the visual reliance of each category (stream tag 1);
- each item's family, category, brand, quality, log price and priceZ (stream tag 3).

Nothing is written; other scripts import `world(seed, items, categories)`. Run on its own with a
data set directory, it checks the replay against the item table that `data synth` wrote
(category, brand, log_price, sales, presence flags) and prints w_c:

    python3 scripts/synth_world.py runs/synth-lr6/data
"""
import json
import math
import os
import sys

import numpy as np

M64 = (1 << 64) - 1
F = np.float32


class SeededRandom:
    def __init__(self, seed):
        x, s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s = s

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53

    def uniform(self, lo, hi):
        return lo + (hi - lo) * self.unit()

    def normal(self):
        u1 = max(self.unit(), 2.0 ** -53)
        u2 = self.unit()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def index(self, n):
        return self.next() % n


def stream(seed, tag, ident):
    s = seed ^ ((tag * 0x9E3779B97F4A7C15) & M64) ^ ((ident * 0xD1B54A32D192ED03) & M64) ^ ((tag << 56) & M64)
    return SeededRandom(s & M64)


def world(seed=1, items=20000, categories=24):
    """w_c per category and hidden item attributes, as SynthWorld.init draws them."""
    d = 8
    rng = stream(seed, 1, 0)
    reliance = np.array([F(rng.uniform(0.65, 0.95)) if c % 2 == 0 else F(rng.uniform(0.05, 0.35))
                         for c in range(categories)], F)
    for _ in range(2 * categories * 8):  # categoryText, categoryImage
        rng.normal()
    category_price = np.array([F(rng.uniform(2.5, 5.5)) for _ in range(categories)], F)

    r = stream(seed, 3, 0)
    cat = np.zeros(items, np.int32)
    fam = np.zeros(items, np.int32)
    brand = np.zeros(items, np.int32)
    quality = np.zeros(items, F)
    log_price = np.zeros(items, F)
    price_z = np.zeros(items, F)
    sales = np.zeros(items, F)
    has_text = np.ones(items, np.uint8)
    has_image = np.ones(items, np.uint8)
    spread = F(0.63)
    nfam = 0
    fam_cat = fam_brand = 0
    fam_quality = fam_price = F(0)
    for i in range(items):
        if i == 0 or r.unit() < 0.4:
            fam_cat = r.index(categories)
            for _ in range(d):  # family style
                r.normal()
            fam_quality = F(r.normal())
            fam_price = F(F(category_price[fam_cat] + F(F(0.5) * F(r.normal()))) + F(F(0.3) * fam_quality))
            fam_brand = r.index(64)
            nfam += 1
        fam[i] = nfam - 1
        cat[i] = fam_cat
        for _ in range(d):  # item style noise
            r.normal()
        quality[i] = F(fam_quality + F(F(0.1) * F(r.normal())))
        log_price[i] = F(fam_price + F(F(0.25) * F(r.normal())))
        price_z[i] = F(F(log_price[i] - category_price[fam_cat]) / spread)
        brand[i] = fam_brand
        sales[i] = F(F(F(0.5) * quality[i]) + F(r.normal()))
        has_text[i] = 0 if r.unit() < 0.01 else 1
        has_image[i] = 0 if r.unit() < 0.04 else 1
    return dict(reliance=reliance, category=cat, family=fam, brand=brand, quality=quality,
                log_price=log_price, price_z=price_z, sales=sales, has_text=has_text, has_image=has_image)


def cheaper_twin(candidates, family, log_price):
    """[N, K] bool: the world's indicator `a cheaper near-duplicate is in the list` (SynthRequest.swift)."""
    out = np.zeros(candidates.shape, bool)
    for r in range(candidates.shape[0]):
        c = candidates[r][candidates[r] >= 0]
        f, p = family[c], log_price[c]
        same = (f[:, None] == f[None, :]) & (p[None, :] < p[:, None] - F(0.05))
        out[r, :len(c)] = same.any(1)
    return out


def load_world(data):
    src = json.load(open(os.path.join(data, "schema.json")))["source"]
    schema = json.load(open(os.path.join(data, "schema.json")))
    return world(int(src["seed"]), schema["items"], int(src["categories"]))


def main():
    from safetensors.numpy import load_file
    data = sys.argv[1]
    w = load_world(data)
    it = load_file(os.path.join(data, "items.safetensors"))
    checks = {
        "category": (it["categorical"][:, 0] == w["category"]).mean(),
        "brand": (it["categorical"][:, 1] == w["brand"]).mean(),
        "log_price": (it["dense"][:, 0] == (w["log_price"] - F(4)) / F(1.2)).mean(),
        "sales": (it["dense"][:, 1] == w["sales"]).mean(),
        "has_text": (it["has_text"] == w["has_text"]).mean(),
        "has_image": (it["has_image"] == w["has_image"]).mean(),
    }
    for k, v in checks.items():
        print(f"{k:10} share of items equal to the replay: {v:.6f}")
    print("w_c:", " ".join(f"{x:.3f}" for x in w["reliance"]))
    sizes = np.bincount(w["family"])
    print(f"families {len(sizes)}, mean size {sizes.mean():.2f}, items in families of >= 2: {(sizes[w['family']] >= 2).mean():.3f}")


if __name__ == "__main__":
    main()
