"""The engine benchmark, Python PyTorch side (same libtorch, BLAS, allocator settings, threads).
   /usr/bin/python3 bench/engine.py <workload> <rounds>   → one JSON line per round"""
import ctypes
import json
import math
import os
import sys
import time

# The allocator settings torchlight's addon applies at load, so both sides run alike.
libc = ctypes.CDLL("libc.so.6")
if os.environ.get("TORCHLIGHT_MALLOPT", "1") != "0":
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

workload, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)


def train_bench(model, x, y, steps):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def one():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):
        one()
    for r in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            one()
        s = (time.perf_counter() - t0) / steps
        print(json.dumps({"workload": workload, "side": "python", "round": r, "stepSeconds": s, "imagesPerSecond": x.shape[0] / s}), flush=True)


if workload == "add":
    a, b = torch.ones(2, 2), torch.ones(2, 2)
    n = 200_000
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        for _ in range(n):
            torch.add(a, b)
        ns = (time.perf_counter() - t0) * 1e9 / n
        if r > 0:
            print(json.dumps({"workload": workload, "side": "python", "round": r - 1, "nsPerOp": ns}), flush=True)
elif workload == "mlp":
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    train_bench(model, torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,)), 100)
else:
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.train()
    train_bench(model, torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,)), 10)
