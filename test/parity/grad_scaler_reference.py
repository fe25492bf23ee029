"""Reference for torchlight's GradScaler test (test/torch/grad_scaler.test.ts):
/usr/bin/python3 test/parity/grad_scaler_reference.py OUT.json

A linear model trained 8 SGD steps with torch.amp.GradScaler("cpu") (init_scale 2**10,
growth_interval 2): steps 3 and 6 get an inf in a gradient (skipped, scale backs off); step 5
unscales before clipping. The scale after every update, the parameters after every step, and
the final state_dict. Python 1.13's GradScaler runs only on CUDA: then {"skip": why}.
"""
import json
import sys

import torch

out_path = sys.argv[1]
if not hasattr(torch, "amp") or not hasattr(torch.amp, "GradScaler"):
    json.dump({"skip": f"Python torch {torch.__version__} has no CPU GradScaler (torch.amp.GradScaler came in 2.3)"}, open(out_path, "w"))
    sys.exit(0)

torch.manual_seed(3)
w = torch.nn.Parameter(torch.randn(4, 3))
b = torch.nn.Parameter(torch.randn(4))
opt = torch.optim.SGD([w, b], lr=0.1)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
x = torch.linspace(-1, 1, 15).reshape(5, 3)
scales, params, skipped = [], [], []
for step in range(8):
    opt.zero_grad()
    loss = ((x @ w.t() + b) ** 2).mean() * (step + 1)
    scaler.scale(loss).backward()
    if step in (3, 6):
        w.grad[1, 2] = float("inf") if step == 3 else float("nan")
    if step == 5:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_([w, b], 0.5)
    before = w.detach().clone()
    scaler.step(opt)
    skipped.append(bool(torch.equal(before, w.detach())))
    scaler.update()
    scales.append(scaler.get_scale())
    params.append(w.detach().flatten().tolist() + b.detach().flatten().tolist())
sd = scaler.state_dict()
json.dump({"scales": scales, "params": params, "skipped": skipped, "state": {k: float(v) for k, v in sd.items()},
           "w0": torch.manual_seed(3) and torch.randn(4, 3).flatten().tolist()}, open(out_path, "w"))
