#!/usr/bin/env python3
"""ARMMT in plain PyTorch: the comparison for armmt-gpu (kept in the repo as llm.c keeps train_gpt2.py).

The same network as docs/MODEL.md, parameter for parameter (names and shapes), so an engine
checkpoint loads with `model.load_state_dict(...)`; a reader for the engine's data-set format
(docs/DATA.md); and three modes. Needs `pip install -r scripts/torch_requirements.txt`.

  # 1. Speed: whole training steps (forward, backward, AdamW) at the default config (B=256
  #    requests, K=32, L=50, d=64, 4 heads, text 384, image 512, query 384) on random tensors.
  #    Median over --steps after --warmup; the LAST line is `requests_per_s=<number>`
  #    (with --json: one JSON object instead).
  python3 scripts/torch_armmt.py --bench --threads 2
  python3 scripts/torch_armmt.py --bench --device cuda --tf32 on --steps 50 --json

  # 2. Quality: train on a data set in the engine's format, validation loss/AUC every epoch.
  #    AdamW (lr 1e-3, weight decay 0.01 on every parameter, betas 0.9/0.999, eps 1e-8), global
  #    gradient-norm clip 1.0 (--clip 0: off), batch 256, shuffled each epoch.
  python3 scripts/torch_armmt.py --data synth --train --epochs 5 [--lr 1e-3] [--batch 256] [--save w.safetensors]

  # 3. Parity: main-head logits [N, K_max, T] (float32) of the first N requests of a split,
  #    from an engine checkpoint (keys starting with `optimizer.` are ignored).
  python3 scripts/torch_armmt.py --data synth --checkpoint ckpt.safetensors \
      --dump-logits logits.npy --split valid --requests 512
  #    With --dump-loss OUT.json / --dump-grads OUT.safetensors: the losses {total, main, aux,
  #    per_target} and every parameter's gradient (same names) of ONE training batch holding
  #    those N requests (what the engine's computeGradients returns for that batch).

Model switches (every mode; defaults as docs/MODEL.md): --width 64 --heads 4 --blocks 1
--embedding-width 16 --cafu-hidden 64 --modalities text,image|text|image|none --fusion cafu|concat|mean
--gate scalar|vector --behaviour-attention on|off --mpsa multi|single|off --mpsa-qk h|r --interaction product|none --aux-weight 0.3
--aux-input r_product|r
--loss bce|listwise --preset prm, or --config FILE_OR_JSON holding the same keys (flags win).
A checkpoint whose safetensors metadata has a "config" JSON entry supplies the base config.
Self-check: python3 scripts/test_torch_armmt.py
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = dict(width=64, heads=4, blocks=1, embedding_width=16, cafu_hidden=64,
                modalities=["text", "image"], fusion="cafu", gate="scalar", behaviour_attention=True,
                mpsa="multi", mpsa_qk="h", interaction="product", aux_weight=0.3, aux_input="r_product", loss="bce", preset=None, seed=0)
NEG = torch.finfo(torch.float32).min  # a masked logit: exp(NEG - max) == 0, and never NaN


def resolve_config(cfg):
    """Defaults, then the given keys, then the preset (prm overrides what it names)."""
    c = dict(DEFAULTS)
    c.update({k: v for k, v in (cfg or {}).items() if v is not None})
    if c["preset"] == "prm":
        c.update(modalities=[], behaviour_attention=False, mpsa="single", aux_weight=0.0)
    elif c["preset"] not in (None, "none", ""):
        raise ValueError(f"unknown preset {c['preset']!r}")
    assert set(c["modalities"]) <= {"text", "image"}, c["modalities"]
    assert c["fusion"] in ("cafu", "concat", "mean") and c["gate"] in ("scalar", "vector")
    assert c["mpsa"] in ("multi", "single", "off") and c["loss"] in ("bce", "listwise")
    assert c["interaction"] in ("product", "none"), c["interaction"]
    assert c["aux_input"] in ("r_product", "r"), c["aux_input"]
    assert c["mpsa_qk"] in ("h", "r"), c["mpsa_qk"]
    assert c["width"] % c["heads"] == 0, "heads must divide width"
    assert c["mpsa"] != "multi" or c["heads"] % 2 == 0, "mpsa=multi needs an even number of heads"
    return c


# ----------------------------------------------------------------------------- model

def linear(n_in, n_out):
    """nn.Linear, also for n_in = 0 (then y = b, with b initialised to U(±1/√0) read as 0 like
    PyTorch's bound; its warning about initialising an empty weight is silenced)."""
    if n_in > 0:
        return nn.Linear(n_in, n_out)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return nn.Linear(n_in, n_out)


def attend(q, k, v, key_mask, heads):
    """Multi-head attention. q [B,Lq,Dq], k [B,Lk,Dq], v [B,Lk,Dv], key_mask [B,Lk] bool (or
    [B,Lq,Lk], a mask per query, for experiments). A row with no valid key gives 0 (not NaN): it
    attends to everything (finite garbage) and the result is multiplied by 0, which also zeroes
    its gradients."""
    B, Lq, _ = q.shape
    Lk = k.shape[1]
    q = q.view(B, Lq, heads, -1).transpose(1, 2)
    k = k.view(B, Lk, heads, -1).transpose(1, 2)
    v = v.view(B, Lk, heads, -1).transpose(1, 2)
    if key_mask.dim() == 2:
        key_mask = key_mask[:, None, :]                              # [B,1,Lk]
    any_key = key_mask.any(dim=-1)                                   # [B,1 or Lq]
    mask = (key_mask | ~any_key[..., None])[:, None]                 # [B,1,1 or Lq,Lk]
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)      # scale 1/sqrt(dh)
    o = o * any_key[:, None, :, None].to(o.dtype)
    return o.transpose(1, 2).reshape(B, Lq, -1)


class BehaviourAttention(nn.Module):
    """Candidates' modality vectors attend to the behaviours' (+ recency)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, cand, beh, key_mask):
        o = attend(self.q_proj(cand), self.k_proj(beh), self.v_proj(beh), key_mask, self.heads)
        return self.out_proj(o)  # no behaviour: out_proj(0) = out_proj.bias


class CAFU(nn.Module):
    """Context-Aware Fusion Unit over M modality vectors x [..., M, d] with presence p [..., M]."""

    def __init__(self, M, d, hidden, fusion, gate):
        super().__init__()
        self.M, self.d, self.fusion, self.gate = M, d, fusion, gate
        if fusion == "cafu":
            self.fc1 = nn.Linear(3 * d, hidden)                      # [z ⊕ c ⊕ e]
            self.fc2 = nn.Linear(hidden, M * d if gate == "vector" else M)
        elif fusion == "concat":
            self.fuse = nn.Linear(M * d, d)

    def forward(self, x, present, context):
        p = present.to(x.dtype)[..., None]                           # [..., M, 1]
        if self.fusion == "concat":                                  # absent modalities as zeros
            return self.fuse((x * p).flatten(-2)), None
        z = (x * p).sum(-2) / p.sum(-2).clamp(min=1)                 # mean of present (0 if none)
        if self.fusion == "mean":
            return z, None
        a = self.fc2(F.relu(self.fc1(torch.cat([z, context], -1))))
        a = a.view(*x.shape[:-2], self.M, self.d if self.gate == "vector" else 1)  # modality-major
        keep = p > 0
        alpha = torch.softmax(a.masked_fill(~keep, NEG), dim=-2) * keep  # no modality: all 0
        return (alpha * x).sum(-2), alpha


class Perspective(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d, d // 2) for _ in range(3))


class FFN(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class MPSABlock(nn.Module):
    """multi: H/2 heads per perspective (q, k from h_item / h_pers, v from u); single: H heads on u."""
    attend = staticmethod(attend)  # an experiment may swap in another attention (mpsa_position_init.py)

    def __init__(self, d, heads, kind):
        super().__init__()
        self.heads, self.kind = heads, kind
        if kind == "multi":
            self.item, self.pers = Perspective(d), Perspective(d)
        else:
            self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d, d) for _ in range(3))
        self.out_proj = nn.Linear(d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn = FFN(d)

    def forward(self, u, h_item, h_pers, mask):
        if self.kind == "multi":
            h = self.heads // 2
            o = torch.cat([self.attend(pi.q_proj(hp), pi.k_proj(hp), pi.v_proj(u), mask, h)
                           for pi, hp in ((self.item, h_item), (self.pers, h_pers))], -1)
        else:
            o = self.attend(self.q_proj(u), self.k_proj(u), self.v_proj(u), mask, self.heads)
        y = self.norm1(u + self.out_proj(o))
        return self.norm2(y + self.ffn(y))


class MLP(nn.Module):
    """fc1 → ReLU → fc2 (→ ReLU → fc3): the main head (4d or 5d → 2d → d → T) and the aux head (3d or 4d → d → 1)."""

    def __init__(self, sizes):
        super().__init__()
        for i in range(len(sizes) - 1):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.n = len(sizes) - 1

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"fc{i + 1}")(x)
            x = F.relu(x) if i < self.n - 1 else x
        return x


class ARMMT(nn.Module):
    """dims: the data schema's sizes, as `dims_from_schema` returns them."""

    def __init__(self, cfg, dims):
        super().__init__()
        self.cfg = c = resolve_config(cfg)
        d, E, H = c["width"], c["embedding_width"], c["heads"]
        self.d, self.heads, self.dims = d, H, dims
        # A modality the data set lacks (width 0) is dropped like a switched-off one.
        self.mods = [m for m in ("text", "image") if m in c["modalities"] and dims[m] > 0]
        self.use_beh = c["behaviour_attention"] and len(self.mods) > 0 and dims["l_max"] > 0
        M = len(self.mods)
        for m in self.mods:
            setattr(self, f"{m}_proj", nn.Linear(dims[m], d))
            setattr(self, f"{m}_norm", nn.LayerNorm(d))
        self.item_cat_emb = nn.ModuleList(nn.Embedding(v, E) for v in dims["item_vocabs"])
        # item_proj and context_proj exist whatever their input width (docs/MODEL.md): with no
        # input (e.g. a LETOR set has no query or user features) the output is the learned bias.
        n_item = E * len(dims["item_vocabs"]) + dims["dense"] + dims["list"]
        self.item_proj = linear(n_item, d)
        self.user_emb = nn.ModuleList(nn.Embedding(v, E) for v in dims["user_vocabs"])
        n_ctx = dims["query"] + E * len(dims["user_vocabs"])
        self.context_proj = linear(n_ctx, d)
        self.position_emb = nn.Embedding(dims["k_max"], d)
        if self.use_beh:
            self.recency_emb = nn.Embedding(dims["l_max"], d)
            self.behaviour_attn = nn.ModuleDict({m: BehaviourAttention(d, H) for m in self.mods})
        if M > 0:
            self.cafu_item = CAFU(M, d, c["cafu_hidden"], c["fusion"], c["gate"])
            if self.use_beh:
                self.cafu_pers = CAFU(M, d, c["cafu_hidden"], c["fusion"], c["gate"])
        self.joint = nn.Linear(2 * d, d)
        n_blocks = 0 if c["mpsa"] == "off" else c["blocks"]
        self.mpsa = nn.ModuleList(MPSABlock(d, H, c["mpsa"]) for _ in range(n_blocks))
        # r_item ⊙ r_pers joins the head's input when both CAFU units exist (switch interaction).
        self.interacts = c["interaction"] == "product" and M > 0 and self.use_beh
        self.head = MLP([(5 if self.interacts else 4) * d, 2 * d, d, dims["targets"]])
        # aux_input = r_product: the auxiliary head reads r_item ⊙ r_pers too (both units needed).
        self.aux_product = c["aux_input"] == "r_product" and M > 0 and self.use_beh
        self.aux_head = MLP([(4 if self.aux_product else 3) * d, d, 1]) if c["aux_weight"] > 0 else None

    def forward(self, b):
        """b: a batch dict (see `Dataset.batch`). Returns main logits [B,K,T], aux logits [B,K,1] or None,
        and the CAFU weights."""
        cand_mask = b["cand_mask"] > 0                               # [B,K]
        B, K = cand_mask.shape
        d = self.d
        feats = [emb(b["cand_cat"][..., i]) for i, emb in enumerate(self.item_cat_emb)]
        feats += [b["cand_dense"], b["list_features"]]
        zeros = b["cand_dense"].new_zeros(B, K, d)
        e = self.item_proj(torch.cat(feats, -1))
        ctx = [b["query"]] + [emb(b["user"][:, i]) for i, emb in enumerate(self.user_emb)]
        c = self.context_proj(torch.cat(ctx, -1))
        cK = c[:, None, :].expand(B, K, d)
        pos = self.position_emb.weight[:K]
        gate_ctx = torch.cat([cK, e], -1)                            # k = c ⊕ e

        cand = {m: getattr(self, f"{m}_norm")(getattr(self, f"{m}_proj")(b[f"cand_{m}"])) for m in self.mods}
        r_item = r_pers = zeros
        alpha_item = alpha_pers = None
        if self.mods:
            x = torch.stack([cand[m] for m in self.mods], -2)        # [B,K,M,d]
            pres = torch.stack([b[f"cand_has_{m}"] for m in self.mods], -1)
            r_item, alpha_item = self.cafu_item(x, pres, gate_ctx)
        if self.use_beh:
            L = b["beh_mask"].shape[1]
            rec = self.recency_emb.weight[:L]
            ps, pres = [], []
            for m in self.mods:
                beh = getattr(self, f"{m}_norm")(getattr(self, f"{m}_proj")(b[f"beh_{m}"])) + rec
                key_mask = (b["beh_mask"] > 0) & (b[f"beh_has_{m}"] > 0)
                ps.append(self.behaviour_attn[m](cand[m], beh, key_mask))
                pres.append(key_mask.any(1).float()[:, None].expand(B, K))  # ≥ 1 behaviour with m
            r_pers, alpha_pers = self.cafu_pers(torch.stack(ps, -2), torch.stack(pres, -1), gate_ctx)
        h_item, h_pers = r_item + e + pos, r_pers + e + pos

        # mpsa_qk = r: the perspectives' queries and keys from r_π alone; a perspective without
        # its CAFU unit keeps h_π.
        qk_item, qk_pers = h_item, h_pers
        if self.cfg["mpsa_qk"] == "r":
            qk_item = r_item if self.mods else h_item
            qk_pers = r_pers if self.use_beh else h_pers
        z = self.joint(torch.cat([h_item, h_pers], -1))              # u
        for block in self.mpsa:
            z = block(z, qk_item, qk_pers, cand_mask)
        head_in = [z, h_item, h_pers, cK] + ([r_item * r_pers] if self.interacts else [])
        logits = self.head(torch.cat(head_in, -1))
        aux_in = [r_item, r_pers, cK] + ([r_item * r_pers] if self.aux_product else [])
        aux = self.aux_head(torch.cat(aux_in, -1)) if self.aux_head is not None else None
        return logits, aux, alpha_item, alpha_pers

    def losses(self, b, main_target):
        """(total, main, aux, per-target main losses) for a batch."""
        logits, aux, _, _ = self(b)
        mask, labels = b["cand_mask"], b["labels"]
        per_t = bce_loss(logits, labels, mask) if self.cfg["loss"] == "bce" else listwise_loss(logits, labels, mask)
        main = per_t.mean()
        aux_l = bce_loss(aux, labels[..., main_target:main_target + 1], mask)[0] if aux is not None else main.new_zeros(())
        return main + self.cfg["aux_weight"] * aux_l, main, aux_l, per_t


def bce_loss(logits, labels, mask):
    """Per target: mean BCE-with-logits over valid candidates (label > 0 is a positive). -> [T]"""
    m = mask.to(logits.dtype)[..., None]
    loss = F.binary_cross_entropy_with_logits(logits, (labels > 0).to(logits.dtype), reduction="none")
    return (loss * m).sum((0, 1)) / m.sum().clamp(min=1)


def listwise_loss(logits, labels, mask):
    """Per target: softmax cross-entropy over each list's valid slots against p ∝ 2^rel − 1;
    lists without a positive are skipped. -> [T]"""
    valid = (mask > 0)[..., None]                                    # [B,K,1]
    gain = torch.where((labels > 0) & valid, torch.exp2(labels) - 1, torch.zeros_like(labels))
    total = gain.sum(1)                                              # [B,T]
    keep = (total > 0).to(logits.dtype)
    p = gain / total.clamp(min=1e-30)[:, None, :]
    logp = torch.log_softmax(logits.masked_fill(~valid, float("-inf")), dim=1).masked_fill(~valid, 0.0)
    per_list = -(p * logp).sum(1)                                    # [B,T]
    return (per_list * keep).sum(0) / keep.sum(0).clamp(min=1)


# ----------------------------------------------------------------------------- data

def _load(path):
    from safetensors.torch import load_file
    return load_file(path)


def dims_from_schema(s):
    return dict(text=s["dims"].get("text", 0), image=s["dims"].get("image", 0),
                query=s["dims"].get("query", 0), k_max=s["dims"]["k_max"], l_max=s["dims"].get("l_max", 0),
                item_vocabs=[f["vocab"] for f in s.get("item_categorical", [])], dense=len(s.get("item_dense", [])),
                list=len(s.get("list_features", [])), user_vocabs=[f["vocab"] for f in s.get("user_features", [])],
                targets=len(s["targets"]))


class Dataset:
    """An engine data set (docs/DATA.md), held in memory: the item table and the splits' request tensors.
    A batch is assembled by indexing the item table with the candidate/behaviour indices."""

    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "schema.json")) as f:
            self.schema = s = json.load(f)
        assert s.get("format") == "armmt-data" and s.get("format_version") == 1, "not an armmt-data v1 schema"
        self.dims = dims_from_schema(s)
        self.main_target = s["targets"].index(s["main_target"])
        it = _load(os.path.join(root, s.get("items_file", "items.safetensors")))
        n = s["items"]
        self.items = {}
        for m in ("text", "image"):
            w = self.dims[m]
            self.items[m] = it[m].float() if w > 0 else torch.zeros(n, 0)          # float16/bf16 widened
            self.items[f"has_{m}"] = it[f"has_{m}"].float() if f"has_{m}" in it else torch.ones(n)
        self.items["categorical"] = it["categorical"].long() if "categorical" in it else torch.zeros(n, 0, dtype=torch.long)
        self.items["dense"] = it["dense"].float() if "dense" in it else torch.zeros(n, 0)
        self.splits = {}

    def split(self, name):
        if name not in self.splits:
            entry = next((e for e in self.schema["splits"] if e["name"] == name), None)
            if entry is None:
                sys.exit(f"torch_armmt: split {name!r} not in the schema ({[e['name'] for e in self.schema['splits']]})")
            shards = [_load(os.path.join(self.root, f)) for f in entry["files"]]
            out = {k: torch.cat([sh[k] for sh in shards]) for k in shards[0]}
            N, K = out["candidates"].shape
            dm = self.dims
            out["candidates"] = out["candidates"].long()
            out["labels"] = out["labels"].float()
            out["list_features"] = out["list_features"].float() if "list_features" in out else torch.zeros(N, K, 0)
            out["behaviours"] = out["behaviours"].long() if "behaviours" in out else torch.full((N, 0), -1, dtype=torch.long)
            out["query"] = out["query"].float() if "query" in out else torch.zeros(N, dm["query"])
            out["user"] = out["user"].long() if "user" in out else torch.zeros(N, 0, dtype=torch.long)
            self.splits[name] = out
        return self.splits[name]

    def batch(self, split, idx, device="cpu"):
        sp, it = self.split(split), self.items
        cand, beh = sp["candidates"][idx], sp["behaviours"][idx]
        cv, bv = (cand >= 0).float(), (beh >= 0).float()
        ci, bi = cand.clamp(min=0), beh.clamp(min=0)
        b = dict(cand_mask=cv, beh_mask=bv, cand_cat=it["categorical"][ci], cand_dense=it["dense"][ci] * cv[..., None],
                 list_features=sp["list_features"][idx] * cv[..., None], query=sp["query"][idx], user=sp["user"][idx],
                 labels=sp["labels"][idx] * cv[..., None])
        for m in ("text", "image"):
            b[f"cand_{m}"] = it[m][ci] * cv[..., None]
            b[f"beh_{m}"] = it[m][bi] * bv[..., None]
            b[f"cand_has_{m}"] = it[f"has_{m}"][ci] * cv
            b[f"beh_has_{m}"] = it[f"has_{m}"][bi] * bv
        return {k: v.to(device) for k, v in b.items()}


def synthetic_batch(dims, B, gen, device):
    """Random tensors of a batch's shapes (for --bench): lists of K/2..K candidates, 0..L behaviours
    (8% empty), 1% items without text and 4% without image, ~26%/7% positive labels."""
    K, L = dims["k_max"], dims["l_max"]
    r = lambda *s: torch.randn(*s, generator=gen)
    u = lambda *s: torch.rand(*s, generator=gen)
    n_c = torch.randint(K // 2, K + 1, (B,), generator=gen)
    n_b = torch.randint(1, L + 1, (B,), generator=gen) * (u(B) > 0.08)
    cv = (torch.arange(K)[None] < n_c[:, None]).float()
    bv = (torch.arange(L)[None] < n_b[:, None]).float()
    ids = lambda vocabs, *s: (torch.stack([torch.randint(0, v, s, generator=gen) for v in vocabs], -1) if vocabs
                              else torch.zeros(*s, 0, dtype=torch.long))
    rates = [0.26, 0.07] + [0.2] * max(0, dims["targets"] - 2)          # click, purchase, ...
    b = dict(cand_mask=cv, beh_mask=bv, cand_cat=ids(dims["item_vocabs"], B, K), user=ids(dims["user_vocabs"], B),
             cand_dense=r(B, K, dims["dense"]), list_features=r(B, K, dims["list"]), query=r(B, dims["query"]),
             labels=torch.stack([u(B, K) < q for q in rates[:dims["targets"]]], -1).float() * cv[..., None])
    for m, miss in (("text", 0.01), ("image", 0.04)):
        b[f"cand_{m}"], b[f"beh_{m}"] = r(B, K, dims[m]), r(B, L, dims[m])
        b[f"cand_has_{m}"], b[f"beh_has_{m}"] = (u(B, K) > miss).float() * cv, (u(B, L) > miss).float() * bv
    return {k: v.to(device) for k, v in b.items()}


BENCH_DIMS = dict(text=384, image=512, query=384, k_max=32, l_max=50, item_vocabs=[24, 200], dense=2, list=2,
                  user_vocabs=[8], targets=2)


# ----------------------------------------------------------------------------- metrics

def auc(scores, labels):
    """Exact AUC, ties count ½ (average ranks). NaN with one class."""
    y = labels > 0
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    _, inv, cnt = np.unique(scores, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(cnt) - (cnt - 1) / 2.0
    return float((avg_rank[inv.ravel()][y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


@torch.no_grad()
def predict(model, data, split, n, batch, device):
    model.eval()
    out = []
    for s in range(0, n, batch):
        out.append(model(data.batch(split, torch.arange(s, min(n, s + batch)), device))[0].float().cpu())
    return torch.cat(out)


def evaluate(model, data, split, batch, device):
    sp = data.split(split)
    n = sp["candidates"].shape[0]
    logits = predict(model, data, split, n, batch, device)
    mask = (sp["candidates"] >= 0).float()
    labels = sp["labels"] * mask[..., None]
    per_t = (bce_loss(logits, labels, mask) if model.cfg["loss"] == "bce" else listwise_loss(logits, labels, mask))
    v = mask.bool().numpy()
    aucs = [auc(logits[..., t].numpy()[v], labels[..., t].numpy()[v]) for t in range(labels.shape[-1])]
    oracle = [auc(sp["oracle"][..., t].float().numpy()[v], labels[..., t].numpy()[v])
              for t in range(labels.shape[-1])] if "oracle" in sp else None
    return per_t.tolist(), aucs, oracle


# ----------------------------------------------------------------------------- modes

def make_optimizer(model, a):
    return torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)


def bench(a, cfg):
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = (a.tf32 == "on")
    torch.manual_seed(cfg.get("seed") or 0)
    dims = dict(BENCH_DIMS, k_max=a.k, l_max=a.l)
    model = ARMMT(cfg, dims).to(device)
    opt = make_optimizer(model, a)
    gen = torch.Generator().manual_seed(1)
    batches = [synthetic_batch(dims, a.batch, gen, device) for _ in range(2)]
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)

    def step(b):
        opt.zero_grad(set_to_none=True)
        loss = model.losses(b, main_target=1)[0]
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        return loss.detach()

    for i in range(a.warmup):
        step(batches[i % 2])
    sync()
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss = step(batches[i % 2])
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rps = a.batch / med
    n_params = sum(p.numel() for p in model.parameters())
    res = dict(device=str(device), device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               threads=torch.get_num_threads(), tf32=a.tf32 if device.type == "cuda" else "n/a", torch=torch.__version__,
               batch=a.batch, k_max=a.k, l_max=a.l, width=model.d, heads=model.heads, text=dims["text"],
               image=dims["image"], parameters=n_params, warmup=a.warmup, steps=a.steps, median_step_ms=med * 1e3,
               min_step_ms=min(times) * 1e3, final_loss=float(loss), requests_per_s=rps)
    if a.json:
        print(json.dumps(res))
        return
    print(f"torch {torch.__version__} on {res['device_name']} ({res['device']}), threads {res['threads']}, tf32 {res['tf32']}")
    print(f"config: B={a.batch} K={a.k} L={a.l} d={model.d} heads={model.heads} text={dims['text']} "
          f"image={dims['image']} query={dims['query']} params={n_params} fusion={model.cfg['fusion']} mpsa={model.cfg['mpsa']}")
    print(f"step (forward+backward+AdamW): median {med * 1e3:.2f} ms, min {min(times) * 1e3:.2f} ms over {a.steps} steps "
          f"after {a.warmup} warm-up; loss {float(loss):.4f}")
    print(f"requests_per_s={rps:.1f}")


def train(a, cfg, data):
    device = torch.device(a.device)
    torch.manual_seed(cfg.get("seed") or 0)
    model = ARMMT(cfg, data.dims).to(device)
    opt = make_optimizer(model, a)
    names = [e["name"] for e in data.schema["splits"]]
    tr = a.split or "train"
    va = a.valid or next((n for n in names if n in ("valid", "validation")), next((n for n in names if n != tr), tr))
    n = data.split(tr)["candidates"].shape[0]
    print(f"train {tr}: {n} requests, valid {va}; params {sum(p.numel() for p in model.parameters())}; "
          f"modalities {model.mods}, behaviour attention {model.use_beh}, mpsa {model.cfg['mpsa']}, loss {model.cfg['loss']}")
    _, _, oracle = evaluate(model, data, va, a.eval_batch, device)
    if oracle:
        print("oracle AUC " + " ".join(f"{t}={x:.4f}" for t, x in zip(data.schema["targets"], oracle)))
    g = torch.Generator().manual_seed(cfg.get("seed") or 0)
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0, tot, steps = time.perf_counter(), 0.0, 0
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, a.batch):
            b = data.batch(tr, perm[s:s + a.batch], device)
            opt.zero_grad(set_to_none=True)
            loss = model.losses(b, data.main_target)[0]
            loss.backward()
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            tot, steps = tot + float(loss), steps + 1
        losses, aucs, _ = evaluate(model, data, va, a.eval_batch, device)
        tg = data.schema["targets"]
        print(f"epoch {epoch}: train loss {tot / steps:.4f} ({time.perf_counter() - t0:.1f}s) | valid loss "
              + " ".join(f"{t}={x:.4f}" for t, x in zip(tg, losses)) + " | AUC "
              + " ".join(f"{t}={x:.4f}" for t, x in zip(tg, aucs)), flush=True)
    if a.save:
        from safetensors.torch import save_file
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, a.save,
                  metadata={"config": json.dumps(model.cfg)})
        print(f"saved {a.save}")


def load_checkpoint(model, path, optional=()):
    """Loads an engine checkpoint's weights; every parameter must be there with its shape, except
    those under a prefix in `optional`, which keep their initial values."""
    from safetensors.torch import load_file
    sd = {k: v.float() for k, v in load_file(path).items() if not k.startswith("optimizer.")}
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(sd) if not k.startswith(tuple(optional)))
    unexpected = sorted(set(sd) - set(own))
    shapes = [f"{k}: checkpoint {list(sd[k].shape)} vs model {list(own[k].shape)}"
              for k in sorted(set(sd) & set(own)) if sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        sys.exit("torch_armmt: checkpoint does not match the model (check the config flags)\n"
                 f"  missing: {missing}\n  unexpected: {unexpected}\n  shape: {shapes}")
    model.load_state_dict(sd, strict=not optional)


def checkpoint_config(path):
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    try:
        cfg = json.loads(meta["config"]) if "config" in meta else {}
    except json.JSONDecodeError:
        return {}
    # An engine checkpoint holds the whole run config {"model": {...}, "train": {...}}; the
    # model section (minus its "kind") is the config this script takes. A --save file holds
    # the model config itself.
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model = dict(cfg["model"])
        kind = model.pop("kind", "armmt")
        if kind != "armmt":
            sys.exit(f"torch_armmt: {path} is a checkpoint of a {kind!r} model, not armmt")
        if meta.get("format_version") == "1":
            model.setdefault("aux_input", "r")  # version 1 predates the switch (docs/TRAINING.md)
        return model
    return cfg if isinstance(cfg, dict) else {}


def dump(a, cfg, data):
    """--dump-logits, --dump-loss, --dump-grads from a checkpoint, on the first N requests of a split."""
    device = torch.device(a.device)
    model = ARMMT(cfg, data.dims).to(device)
    load_checkpoint(model, a.checkpoint)
    split = a.split or "valid"
    total = data.split(split)["candidates"].shape[0]
    n = total if a.requests is None else min(a.requests, total)
    if a.dump_logits:
        logits = predict(model, data, split, n, a.eval_batch, device).numpy().astype(np.float32)
        np.save(a.dump_logits, logits)
        print(f"wrote {a.dump_logits}: main-head logits {list(logits.shape)} of the first {n} requests of {split}")
    if a.dump_loss or a.dump_grads:
        # One training batch of all N requests (as the engine's computeGradients on that batch).
        model.train()
        model.zero_grad(set_to_none=True)
        b = data.batch(split, torch.arange(n), device)
        loss, main, aux, per_t = model.losses(b, data.main_target)
        loss.backward()
        if a.dump_loss:
            with open(a.dump_loss, "w") as f:
                json.dump(dict(total=float(loss), main=float(main), aux=float(aux),
                               per_target=[float(x) for x in per_t], requests=n, split=split), f)
            print(f"wrote {a.dump_loss}: loss {float(loss):.6f} of one batch of the first {n} requests of {split}")
        if a.dump_grads:
            from safetensors.torch import save_file
            grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().float().cpu().contiguous()
                     for k, p in model.named_parameters()}
            save_file(grads, a.dump_grads, metadata={"split": split, "requests": str(n)})
            print(f"wrote {a.dump_grads}: gradients of {len(grads)} parameters")


def config_from_args(a, base):
    cfg = dict(base)
    if a.config:
        cfg.update(json.load(open(a.config)) if os.path.exists(a.config) else json.loads(a.config))
    onoff = lambda v: None if v is None else v == "on"
    mods = None if a.modalities is None else [m for m in a.modalities.split(",") if m and m != "none"]
    flags = dict(width=a.width, heads=a.heads, blocks=a.blocks, embedding_width=a.embedding_width,
                 cafu_hidden=a.cafu_hidden, modalities=mods, fusion=a.fusion, gate=a.gate,
                 behaviour_attention=onoff(a.behaviour_attention), mpsa=a.mpsa, mpsa_qk=a.mpsa_qk, interaction=a.interaction, aux_weight=a.aux_weight, aux_input=a.aux_input,
                 loss=a.loss, preset=a.preset, seed=a.seed)
    cfg.update({k: v for k, v in flags.items() if v is not None})
    return cfg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", action="store_true")
    p.add_argument("--data")
    p.add_argument("--train", action="store_true")
    p.add_argument("--checkpoint")
    p.add_argument("--dump-logits")
    p.add_argument("--dump-loss", help="JSON {total, main, aux, per_target} of one batch of the first N requests")
    p.add_argument("--dump-grads", help="safetensors of every parameter's gradient on that batch")
    p.add_argument("--split", help="--train: the training split (train); --dump-logits: the split (valid)")
    p.add_argument("--valid", help="--train: the validation split (valid, else the next split)")
    p.add_argument("--requests", type=int)
    p.add_argument("--save", help="--train: write the trained weights (safetensors, config in metadata)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument("--tf32", choices=["on", "off"], default="off")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--eval-batch", type=int, default=512)
    p.add_argument("--k", type=int, default=32, help="--bench: K_max")
    p.add_argument("--l", type=int, default=50, help="--bench: L_max")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip (0: off)")
    p.add_argument("--config")
    for k in ("width", "heads", "blocks", "embedding-width", "cafu-hidden", "seed"):
        p.add_argument(f"--{k}", type=int)
    p.add_argument("--modalities")
    p.add_argument("--fusion", choices=["cafu", "concat", "mean"])
    p.add_argument("--gate", choices=["scalar", "vector"])
    p.add_argument("--behaviour-attention", choices=["on", "off"])
    p.add_argument("--mpsa", choices=["multi", "single", "off"])
    p.add_argument("--mpsa-qk", choices=["h", "r"])
    p.add_argument("--interaction", choices=["product", "none"])
    p.add_argument("--aux-weight", type=float)
    p.add_argument("--aux-input", choices=["r_product", "r"])
    p.add_argument("--loss", choices=["bce", "listwise"])
    p.add_argument("--preset", choices=["none", "prm"])
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    base = checkpoint_config(a.checkpoint) if a.checkpoint else {}
    cfg = config_from_args(a, base)
    if a.bench:
        return bench(a, cfg)
    if not a.data:
        p.error("give --bench, or --data DIR with --train or --checkpoint/--dump-logits")
    data = Dataset(a.data)
    if a.train:
        return train(a, cfg, data)
    if a.checkpoint and (a.dump_logits or a.dump_loss or a.dump_grads):
        return dump(a, cfg, data)
    p.error("with --data: --train, or --checkpoint FILE --dump-logits OUT.npy / --dump-loss OUT.json / "
            "--dump-grads OUT.safetensors [--split S] [--requests N]")


if __name__ == "__main__":
    main()
