"""The engine benchmark, Python PyTorch side (same libtorch, BLAS, allocator settings, threads).
   /usr/bin/python3 bench/engine.py <workload> <rounds>   → one JSON line per round"""
import json
import os
import sys
import time

from common import train_rounds, tune_allocator

tune_allocator()

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

workload, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)


def train_bench(model, x, y, steps):
    train_rounds(workload, model, torch.optim.Adam(model.parameters(), lr=1e-3), F.cross_entropy, x, y, steps, rounds)


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
