"""Reference for torchlight's autocast test (test/torch/amp.test.ts), computed by Python PyTorch on
the same libtorch: /usr/bin/python3 test/parity/amp_reference.py OUT.json

A small conv net trained 3 SGD steps with its forward under torch.autocast("cpu") (bfloat16):
the dtypes autocast chose, the first step's loss and gradients, and the final parameters.
"""
import json
import sys

import torch

import onednn_check  # noqa: F401  (turns oneDNN off where its gradients are wrong, as torchlight does)
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(7)
net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
g = torch.Generator().manual_seed(11)
x = torch.randn(8, 1, 8, 8, generator=g)
y = torch.randint(0, 10, (8,), generator=g)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
crit = nn.CrossEntropyLoss()


def enc(t):
    t = t.detach().float() if t.dtype == torch.bfloat16 else t.detach()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.flatten().tolist()}


out = {"torch": torch.__version__}
for step in range(3):
    opt.zero_grad()
    with torch.autocast("cpu"):
        logits = net(x)
        loss = crit(logits, y)
    loss.backward()
    if step == 0:
        out["logitsDtype"] = str(logits.dtype).replace("torch.", "")
        out["lossDtype"] = str(loss.dtype).replace("torch.", "")
        out["logits"] = enc(logits)
        out["loss"] = loss.item()
        out["grads"] = {k: enc(p.grad) for k, p in net.named_parameters()}
    opt.step()
out["params"] = {k: enc(p) for k, p in net.named_parameters()}
json.dump(out, open(sys.argv[1], "w"))
