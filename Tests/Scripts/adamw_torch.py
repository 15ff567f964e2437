"""Reference values for OptimizerTests.testMatchesTorchAdamW.

Reads JSON from stdin: params (list of flat float lists), grads (per step, per tensor),
lr, beta1, beta2, eps, weight_decay, max_norm. For every step it sets the gradients, clips them
with torch.nn.utils.clip_grad_norm_ and takes a torch.optim.AdamW step (float32, CPU, single-tensor
implementation). Prints JSON: final params, m, v (per tensor) and the pre-clip norm of every step.
Exits 3 when torch cannot be imported, so the Swift test can skip.
"""
import json
import sys

try:
    import torch
except ImportError:
    print("torch is not installed", file=sys.stderr)
    sys.exit(3)

cfg = json.load(sys.stdin)
params = [torch.nn.Parameter(torch.tensor(p, dtype=torch.float32)) for p in cfg["params"]]
opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                        weight_decay=cfg["weight_decay"], foreach=False)
norms = []
for step_grads in cfg["grads"]:
    for p, g in zip(params, step_grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    norms.append(float(torch.nn.utils.clip_grad_norm_(params, cfg["max_norm"], foreach=False)))
    opt.step()
state = [opt.state[p] for p in params]
print(json.dumps({
    "params": [p.detach().tolist() for p in params],
    "m": [s["exp_avg"].tolist() for s in state],
    "v": [s["exp_avg_sq"].tolist() for s in state],
    "norms": norms,
}))
