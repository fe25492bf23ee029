"""The data benchmark, Python side: torch.utils.data.DataLoader over torchvision's FashionMNIST
(ToTensor + Normalize, batch 128, shuffled), 0 or 2 worker processes, images/s over 100 batches.
   /usr/bin/python3 bench/data.py <loader0|loader2> <rounds>"""
import gzip
import json
import os
import shutil
import sys
import tempfile
import time

from common import tune_allocator

tune_allocator()
import torch
import torchvision
from torchvision import transforms as T

workload, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)
root = os.path.join(tempfile.gettempdir(), "torchlight-bench-fmnist")
raw = os.path.join(root, "FashionMNIST", "raw")
if not os.path.exists(os.path.join(raw, "train-labels-idx1-ubyte")):
    os.makedirs(raw, exist_ok=True)
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        with gzip.open(f"/usr/share/datasets/fashion-mnist/{f}.gz", "rb") as fi, open(os.path.join(raw, f), "wb") as fo:
            shutil.copyfileobj(fi, fo)
data = torchvision.datasets.FashionMNIST(root, train=True, transform=T.Compose([T.ToTensor(), T.Normalize([0.28604], [0.32025])]))
workers = 2 if workload == "loader2" else 0
loader = torch.utils.data.DataLoader(data, batch_size=128, shuffle=True, num_workers=workers, persistent_workers=workers > 0)


def run(n):
    t0 = time.perf_counter()
    for k, (x, y) in enumerate(loader):
        if k + 1 == n:
            break
    return time.perf_counter() - t0


run(10)
for r in range(rounds):
    print(json.dumps({"workload": workload, "side": "python", "round": r, "imagesPerSecond": 100 * 128 / run(100)}), flush=True)
