#!/usr/bin/env python3
"""Self-check of scripts/torch_armmt.py: python3 scripts/test_torch_armmt.py [--quick]

- every switch value and the prm preset build on tiny dims; forward/backward give finite losses
  and gradients; the state-dict names/shapes equal the list written below from docs/MODEL.md;
- a request without behaviours gives p_m = out_proj.bias (never NaN); CAFU weights are a softmax
  over present modalities; padding candidates do not change the valid candidates' logits;
- the data loader reads a data set written here with numpy (docs/DATA.md: float16 text, presence
  flags, empty behaviour sequences, two shards), --train learns its signal (AUC > 0.6), and
  --checkpoint/--dump-logits reproduce the trained model's logits (an `optimizer.*` key ignored);
- --bench prints `requests_per_s=<number>` as its last line.
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_armmt as ta  # noqa: E402

DIMS = dict(text=10, image=6, query=5, k_max=7, l_max=4, item_vocabs=[5, 3], dense=2, list=2, user_vocabs=[4],
            targets=2)


def expected_params(cfg, dims):
    """docs/MODEL.md, written out: {name: shape}."""
    c = ta.resolve_config(cfg)
    d, E, h = c["width"], c["embedding_width"], c["cafu_hidden"]
    mods = [m for m in ("text", "image") if m in c["modalities"] and dims[m] > 0]
    beh = c["behaviour_attention"] and mods and dims["l_max"] > 0
    out = {}

    def lin(name, o, i):
        out[name + ".weight"], out[name + ".bias"] = (o, i), (o,)

    def ln(name):
        out[name + ".weight"], out[name + ".bias"] = (d,), (d,)

    for m in mods:
        lin(f"{m}_proj", d, dims[m])
        ln(f"{m}_norm")
    for i, v in enumerate(dims["item_vocabs"]):
        out[f"item_cat_emb.{i}.weight"] = (v, E)
    lin("item_proj", d, len(dims["item_vocabs"]) * E + dims["dense"] + dims["list"])
    for i, v in enumerate(dims["user_vocabs"]):
        out[f"user_emb.{i}.weight"] = (v, E)
    lin("context_proj", d, dims["query"] + len(dims["user_vocabs"]) * E)
    out["position_emb.weight"] = (dims["k_max"], d)
    if beh:
        out["recency_emb.weight"] = (dims["l_max"], d)
        for m, p in itertools.product(mods, "qkv"):
            lin(f"behaviour_attn.{m}.{p}_proj", d, d)
        for m in mods:
            lin(f"behaviour_attn.{m}.out_proj", d, d)
    for unit in (["cafu_item", "cafu_pers"] if beh else ["cafu_item"]) if mods else []:
        if c["fusion"] == "cafu":
            lin(f"{unit}.fc1", h, 3 * d)
            lin(f"{unit}.fc2", len(mods) * d if c["gate"] == "vector" else len(mods), h)
        elif c["fusion"] == "concat":
            lin(f"{unit}.fuse", d, len(mods) * d)
    lin("joint", d, 2 * d)
    for b in range(0 if c["mpsa"] == "off" else c["blocks"]):
        if c["mpsa"] == "multi":
            for pi, p in itertools.product(("item", "pers"), "qkv"):
                lin(f"mpsa.{b}.{pi}.{p}_proj", d // 2, d)
        else:
            for p in "qkv":
                lin(f"mpsa.{b}.{p}_proj", d, d)
        lin(f"mpsa.{b}.out_proj", d, d)
        ln(f"mpsa.{b}.norm1")
        ln(f"mpsa.{b}.norm2")
        lin(f"mpsa.{b}.ffn.fc1", 4 * d, d)
        lin(f"mpsa.{b}.ffn.fc2", d, 4 * d)
    # r_item ⊙ r_pers joins a head's input only when both CAFU units exist.
    product = bool(mods and beh)
    lin("head.fc1", 2 * d, (5 if product and c["interaction"] == "product" else 4) * d)
    lin("head.fc2", d, 2 * d)
    lin("head.fc3", dims["targets"], d)
    if c["aux_weight"] > 0:
        lin("aux_head.fc1", d, (4 if product and c["aux_input"] == "r_product" else 3) * d)
        lin("aux_head.fc2", 1, d)
    return out


def variants():
    base = dict(width=8, heads=2, embedding_width=3, cafu_hidden=5)
    out = [dict(base)]
    for mods in (["text"], ["image"], []):
        out.append(dict(base, modalities=mods))
    for fusion, gate in (("concat", "scalar"), ("mean", "scalar"), ("cafu", "vector")):
        out.append(dict(base, fusion=fusion, gate=gate))
    out += [dict(base, fusion="concat", modalities=["image"]), dict(base, gate="vector", modalities=["text"]),
            dict(base, behaviour_attention=False), dict(base, mpsa="single"), dict(base, mpsa="off"),
            dict(base, blocks=2), dict(base, mpsa="single", blocks=2, heads=4), dict(base, aux_weight=0.0),
            dict(base, interaction="none"), dict(base, aux_input="r"), dict(base, interaction="none", aux_input="r"),
            dict(base, aux_input="r", behaviour_attention=False),
            dict(base, loss="listwise"), dict(base, loss="listwise", gate="vector"), dict(base, preset="prm"),
            dict(base, preset="prm", heads=1)]
    return out


def tiny_batch(dims, B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    b = ta.synthetic_batch(dims, B, g, "cpu")
    b["beh_mask"][0] = 0                       # request 0: no behaviours at all
    b["beh_has_image"][1] = 0                  # request 1: behaviours, none with an image
    b["labels"][2] = 0                         # request 2: no positive (list-wise skips it)
    b["labels"][3, 0, 0] = 3.0                 # a graded label
    b["cand_has_text"][4, 0] = b["cand_has_image"][4, 0] = 0  # a candidate without any modality
    for k in ("cand_has_text", "cand_has_image", "beh_has_text", "beh_has_image"):
        b[k] = b[k] * (b["cand_mask"] if k.startswith("cand") else b["beh_mask"])
    return b


def check_variants():
    for cfg in variants():
        torch.manual_seed(0)
        model = ta.ARMMT(cfg, DIMS)
        got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        exp = expected_params(cfg, DIMS)
        assert got == exp, f"{cfg}: state dict differs from docs/MODEL.md\n  only model: " \
            f"{sorted(set(got) - set(exp))}\n  only doc: {sorted(set(exp) - set(got))}\n  shapes: " \
            f"{[(k, got[k], exp[k]) for k in set(got) & set(exp) if got[k] != exp[k]]}"
        b = tiny_batch(DIMS)
        total, main, aux, per_t = model.losses(b, main_target=1)
        assert torch.isfinite(total) and per_t.shape == (2,), (cfg, total, per_t)
        total.backward()
        for n, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{cfg}: gradient of {n}"
        logits = model(b)[0]
        assert logits.shape == (5, DIMS["k_max"], 2) and torch.isfinite(logits).all()
        print(f"ok  {json.dumps({k: v for k, v in cfg.items() if k not in ('width', 'embedding_width', 'cafu_hidden')})}"
              f"  params={sum(p.numel() for p in model.parameters())} loss={float(total.detach()):.4f}")


def check_letor_dims():
    """An imported LETOR set: only list features and a graded target (no text/image/query/user/behaviours).
    item_proj takes the list features; context_proj has no input, so c = context_proj.bias."""
    dims = dict(text=0, image=0, query=0, k_max=6, l_max=0, item_vocabs=[], dense=0, list=4, user_vocabs=[],
                targets=1)
    for cfg in (dict(width=8, heads=2, loss="listwise"), dict(width=8, heads=2, preset="prm")):
        model = ta.ARMMT(cfg, dims)
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_params(cfg, dims)
        b = tiny_batch(dict(DIMS, **{k: v for k, v in dims.items() if k != "l_max"}, l_max=1))
        b["labels"] = b["labels"][..., :1] * torch.randint(0, 3, b["labels"][..., :1].shape).float()
        total = model.losses(b, main_target=0)[0]
        total.backward()
        assert torch.isfinite(total)
    print("ok  LETOR-like dims (list features only)")


def check_semantics():
    torch.manual_seed(0)
    d = 8
    # No behaviour -> out_proj.bias exactly; and the gradient into the keys is 0, not NaN.
    att = ta.BehaviourAttention(d, 2)
    cand, beh = torch.randn(2, 3, d), torch.randn(2, 4, d, requires_grad=True)
    mask = torch.tensor([[False] * 4, [True, True, False, False]])
    out = att(cand, beh, mask)
    assert torch.equal(out[0], att.out_proj.bias.expand(3, d)), "empty behaviours must give out_proj.bias"
    out.sum().backward()
    assert torch.isfinite(beh.grad).all() and beh.grad[0].abs().max() == 0 and beh.grad[1, 2:].abs().max() == 0
    # Masked keys are never used: changing them changes nothing.
    beh2 = beh.detach().clone()
    beh2[1, 2:] = 1e4
    assert torch.allclose(att(cand, beh2, mask), att(cand, beh.detach(), mask))
    # CAFU: softmax over present modalities; none present -> r = 0, alpha = 0.
    for gate in ("scalar", "vector"):
        cafu = ta.CAFU(2, d, 5, "cafu", gate)
        x = torch.randn(3, 2, d)
        pres = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
        r, alpha = cafu(x, pres, torch.randn(3, 2 * d))
        assert torch.allclose(alpha[0].sum(0), torch.ones(alpha.shape[-1]))
        assert torch.allclose(alpha[1, 0], torch.ones(alpha.shape[-1])) and alpha[1, 1].abs().max() == 0
        assert torch.allclose(r[1], x[1, 0]) and r[2].abs().max() == 0 and alpha[2].abs().max() == 0
    # Padding candidates do not change valid candidates' logits (every variant's attention is masked).
    for cfg in variants():
        model = ta.ARMMT(cfg, DIMS).eval()
        b = tiny_batch(DIMS)
        b2 = {k: v.clone() for k, v in b.items()}
        pad = b["cand_mask"] == 0
        for k in ("cand_text", "cand_image", "cand_dense", "list_features"):
            b2[k][pad] = 7.0
        with torch.no_grad():
            l1, l2 = model(b)[0], model(b2)[0]
        assert torch.allclose(l1[~pad], l2[~pad], atol=1e-5), f"{cfg}: padding leaks"
    # Losses against direct formulas.
    logits, labels = torch.randn(2, 3, 1), torch.tensor([[[1.0], [0.0], [2.0]], [[0.0], [0.0], [0.0]]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    x, y = logits[mask > 0, 0], (labels[mask > 0, 0] > 0).float()
    ref = torch.nn.functional.binary_cross_entropy_with_logits(x, y)
    assert torch.allclose(ta.bce_loss(logits, labels, mask)[0], ref)
    g = torch.tensor([1.0, 0.0, 3.0])
    ref = -(g / g.sum() * torch.log_softmax(logits[0, :, 0], 0)).sum()  # list 1 has no positive: skipped
    assert torch.allclose(ta.listwise_loss(logits, labels, mask)[0], ref)
    assert ta.auc(np.array([0.1, 0.4, 0.4, 0.8]), np.array([0, 0, 1, 1])) == 0.875
    print("ok  semantics: empty behaviours, CAFU masking, padding, losses, AUC")


def write_dataset(out, seed=0, n_train=1200, n_valid=300):
    """A tiny engine data set with a learnable signal (text quality, image style x behaviour taste, price)."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(seed)
    I, Dt, Dv, Dq, K, L = 300, 12, 8, 6, 8, 5
    os.makedirs(out, exist_ok=True)
    text, image = rng.standard_normal((I, Dt)), rng.standard_normal((I, Dv))
    has_text, has_image = (rng.random(I) > 0.02).astype(np.uint8), (rng.random(I) > 0.1).astype(np.uint8)
    text *= has_text[:, None]
    image *= has_image[:, None]
    price = rng.standard_normal(I)
    save_file({"text": text.astype(np.float16), "image": image.astype(np.float32), "has_text": has_text,
               "has_image": has_image, "categorical": rng.integers(0, 6, (I, 1)).astype(np.int32),
               "dense": price[:, None].astype(np.float32)}, os.path.join(out, "items.safetensors"))

    def split(n):
        cand, beh = np.full((n, K), -1, np.int32), np.full((n, L), -1, np.int32)
        labels = np.zeros((n, K, 2), np.float32)
        for r in range(n):
            k = rng.integers(2, K + 1)
            cand[r, :k] = rng.choice(I, k, replace=False)
            nb = 0 if rng.random() < 0.1 else rng.integers(1, L + 1)
            beh[r, :nb] = rng.choice(I, nb, replace=False)
            taste = image[beh[r, :nb]].mean(0) if nb else np.zeros(Dv)
            eta = -1.5 + 1.2 * text[cand[r, :k], 0] + 0.8 * image[cand[r, :k]] @ taste - 0.7 * price[cand[r, :k]]
            click = rng.random(k) < 1 / (1 + np.exp(-eta - 1))
            labels[r, :k, 0], labels[r, :k, 1] = click, click & (rng.random(k) < 0.5)
        pos = np.broadcast_to(np.arange(K, dtype=np.float32) / (K - 1), (n, K))
        return {"candidates": cand, "labels": labels, "behaviours": beh,
                "list_features": pos[..., None] * (cand >= 0)[..., None],
                "query": rng.standard_normal((n, Dq)).astype(np.float32),
                "user": rng.integers(0, 3, (n, 1)).astype(np.int32)}

    tr = split(n_train)
    h = n_train // 2
    save_file({k: np.ascontiguousarray(v[:h]) for k, v in tr.items()}, os.path.join(out, "train-00000.safetensors"))
    save_file({k: np.ascontiguousarray(v[h:]) for k, v in tr.items()}, os.path.join(out, "train-00001.safetensors"))
    save_file(split(n_valid), os.path.join(out, "valid.safetensors"))
    schema = {"format": "armmt-data", "format_version": 1,
              "dims": {"text": Dt, "image": Dv, "query": Dq, "k_max": K, "l_max": L}, "items": I,
              "item_categorical": [{"name": "category", "vocab": 6}], "item_dense": ["price"],
              "user_features": [{"name": "age_bucket", "vocab": 3}], "list_features": ["position"],
              "targets": ["click", "purchase"], "main_target": "purchase",
              "splits": [{"name": "train", "files": ["train-00000.safetensors", "train-00001.safetensors"]},
                         {"name": "valid", "files": ["valid.safetensors"]}]}
    with open(os.path.join(out, "schema.json"), "w") as f:
        json.dump(schema, f, indent=2)


def run(args):
    r = subprocess.run([sys.executable, os.path.join(HERE, "torch_armmt.py")] + args, capture_output=True, text=True)
    assert r.returncode == 0, f"torch_armmt.py {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def check_data_and_modes():
    from safetensors.torch import load_file, save_file
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "data")
        write_dataset(data_dir)
        ds = ta.Dataset(data_dir)
        assert ds.items["text"].dtype == torch.float32 and ds.split("train")["candidates"].shape == (1200, 8)
        b = ds.batch("train", torch.arange(4))
        assert b["cand_text"].shape == (4, 8, 12) and b["beh_image"].shape == (4, 5, 8)
        print("ok  data loader (float16 widened, 2 shards)")
        # The official example data set (scripts/write_example_dataset.py) loads and trains too.
        ex = os.path.join(tmp, "example")
        subprocess.run([sys.executable, os.path.join(HERE, "write_example_dataset.py"), ex], check=True)
        run(["--data", ex, "--train", "--epochs", "1", "--batch", "8", "--width", "8", "--heads", "2"])
        ckpt = os.path.join(tmp, "model.safetensors")
        out = run(["--data", data_dir, "--train", "--epochs", "4", "--batch", "32", "--lr", "3e-3", "--width", "16",
                   "--save", ckpt, "--threads", "2"])
        print(out.rstrip())
        last = out.strip().splitlines()[-2]
        purchase_auc = float(last.split("AUC")[1].split("purchase=")[1].split()[0])
        assert purchase_auc > 0.6, f"training did not learn: {last}"
        # Engine-style checkpoint: optimizer state beside the weights, config given by flags.
        sd = load_file(ckpt)
        sd["optimizer.step"] = torch.tensor([4.0])
        engine_ckpt = os.path.join(tmp, "engine.safetensors")
        save_file(sd, engine_ckpt)
        npy = os.path.join(tmp, "logits.npy")
        run(["--data", data_dir, "--checkpoint", engine_ckpt, "--dump-logits", npy, "--split", "valid",
             "--requests", "50", "--width", "16"])
        dumped = np.load(npy)
        model = ta.ARMMT(dict(width=16), ds.dims)
        model.load_state_dict({k: v for k, v in load_file(ckpt).items()})
        ref = ta.predict(model, ds, "valid", 50, 17, "cpu").numpy()
        assert dumped.shape == (50, 8, 2) and np.allclose(dumped, ref, atol=1e-5)
        print("ok  --train learns (purchase AUC %.3f), --checkpoint/--dump-logits round trip" % purchase_auc)
    out = run(["--bench", "--threads", "2", "--batch", "8", "--k", "6", "--l", "5", "--steps", "2", "--warmup", "1"])
    assert out.strip().splitlines()[-1].startswith("requests_per_s="), out
    float(out.strip().splitlines()[-1].split("=")[1])
    js = json.loads(run(["--bench", "--json", "--batch", "8", "--k", "6", "--l", "5", "--steps", "2", "--warmup", "1",
                         "--preset", "prm"]))
    assert js["requests_per_s"] > 0
    print("ok  --bench prints requests_per_s last (and --json)")


if __name__ == "__main__":
    torch.set_num_threads(min(2, torch.get_num_threads()))
    check_variants()
    check_letor_dims()
    check_semantics()
    if "--quick" not in sys.argv:
        check_data_and_modes()
    print("all torch_armmt checks passed")
