"""Reference loss curve for torchlight's training test (test/nn/training.test.ts):
/usr/bin/python3 test/parity/mlp_curve.py DIR OUT.json

An MLP 20-64-64-3 (Linear, ReLU, Linear, ReLU, Linear) on a synthetic 3-class task: the
initial weights and the data are written to DIR/mlp_init.pt with torch.save (so the run does
not depend on either side's random init), then 100 Adam steps (lr 1e-2, weight decay 1e-4)
on minibatches of 32 in a fixed order, with cross-entropy loss. Records every step's loss.
"""
import json
import os
import sys

import torch
import torch.nn as nn

torch.set_num_threads(2)
d, out_path = sys.argv[1], sys.argv[2]
g = torch.Generator().manual_seed(2024)
X = torch.randn(256, 20, generator=g)
W = torch.randn(20, 3, generator=g)
Y = (X @ W + 0.1 * torch.randn(256, 3, generator=g)).argmax(1)
torch.manual_seed(5)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
torch.save({"model": model.state_dict(), "X": X, "Y": Y}, os.path.join(d, "mlp_init.pt"))
opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
loss_fn = nn.CrossEntropyLoss()
losses = []
for step in range(100):
    i = (step * 32) % 256
    opt.zero_grad()
    loss = loss_fn(model(X[i:i + 32]), Y[i:i + 32])
    loss.backward()
    opt.step()
    losses.append(loss.item())
json.dump({"losses": losses}, open(out_path, "w"))
