"""Shared by the Python sides of the benchmarks (bench/*.py): the allocator settings that
torchlight's addon applies at load, so both sides run alike, and the timed training loop."""
import ctypes
import json
import os
import time


def tune_allocator():
    """glibc malloc keeps large blocks in the heap and never trims (call before importing torch)."""
    if os.environ.get("TORCHLIGHT_MALLOPT", "1") != "0":
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def train_rounds(workload, model, opt, loss_fn, x, y, steps, rounds):
    """Two warm-up steps, then `rounds` rounds of `steps` training steps, one JSON line each."""

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
        print(json.dumps({"workload": workload, "side": "python", "round": r, "stepSeconds": s, "imagesPerSecond": x.shape[0] / s}), flush=True)
