"""The nn benchmark, Python PyTorch side (same libtorch, BLAS, allocator settings, threads).
   /usr/bin/python3 bench/nn.py <workload> <rounds>   → one JSON line per round
Workloads as bench/nn.ts; adam reports torch.optim.Adam with foreach=False (the CPU default
in 1.13) and foreach=True."""
import json
import os
import sys
import time

from common import train_rounds, tune_allocator

tune_allocator()

import torch
import torch.nn as nn
import torchvision

workload, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)


def resnet18():
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return m


def emit(r, **kw):
    print(json.dumps({"workload": workload, "side": "python", "round": r, **kw}), flush=True)


if workload == "adam":
    params = list(resnet18().parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    for foreach in (False, True):
        opt = torch.optim.Adam(params, lr=1e-3, foreach=foreach)
        for _ in range(2):
            opt.step()
        for r in range(rounds):
            t0 = time.perf_counter()
            for _ in range(20):
                opt.step()
            emit(r, **{"msPerStepForeach" if foreach else "msPerStep": (time.perf_counter() - t0) * 1000 / 20})
else:
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)) if workload == "mlp" else resnet18()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
    steps = 100 if workload == "mlp" else 10
    train_rounds(workload, model, opt, loss_fn, x, y, steps, rounds)
