"""The nn benchmark, Python PyTorch side (same libtorch, BLAS, allocator settings, threads).
   /usr/bin/python3 bench/nn.py <workload> <rounds>   → one JSON line per round
Workloads as bench/nn.ts; adam reports torch.optim.Adam with foreach=False (the CPU default
in 1.13) and foreach=True."""
import ctypes
import json
import os
import sys
import time

libc = ctypes.CDLL("libc.so.6")
if os.environ.get("TORCHLIGHT_MALLOPT", "1") != "0":
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD, as torchlight's addon sets at load
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD

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

    def one():
        loss_fn(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):
        one()
    for r in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            one()
        s = (time.perf_counter() - t0) / steps
        emit(r, stepSeconds=s, imagesPerSecond=128 / s)
