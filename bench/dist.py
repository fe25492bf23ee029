"""The distributed benchmark, reference side.   /usr/bin/python3 bench/dist.py <workload> <rounds>
allreduce: a plain C++ c10d program (bench/allreduce.cpp, built here against the same
libtorch) all-reducing 64 MiB float32 between 2 processes: the floor.
ddp: torch.nn.parallel.DistributedDataParallel over torchvision's ResNet-18 (1-channel conv1),
2 processes with the environment torchrun sets, 1 intra-op thread each, batch 128 per rank, Adam."""
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
workload, rounds = sys.argv[1], int(sys.argv[2])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if workload == "allreduce":
    exe = os.path.join(ROOT, "build", "bench", "allreduce")
    src = os.path.join(HERE, "allreduce.cpp")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        flags = subprocess.check_output(["node", os.path.join(ROOT, "native", "find-libtorch.mjs"), "--include"], text=True).split()
        libs = subprocess.check_output(["node", os.path.join(ROOT, "native", "find-libtorch.mjs"), "--libs"], text=True).split()
        ldflags = subprocess.check_output(["node", os.path.join(ROOT, "native", "find-libtorch.mjs"), "--ldflags"], text=True).split()
        std = subprocess.check_output(["node", os.path.join(ROOT, "native", "find-libtorch.mjs"), "--cxx-std"], text=True).strip()
        subprocess.check_call(["g++", "-O2", std, "-DUSE_C10D_GLOO", "-D_GLIBCXX_USE_CXX11_ABI=1", *[f"-I{f}" for f in flags],
                               "-I", os.path.join(ROOT, "native", "compat"), src, "-o", exe, *ldflags, *libs])
    port = str(free_port())
    # BENCH_HOSTS=h1,h2: one rank on each of scripts/hosts-local.sh's hosts, the store on the first
    hosts = [h for h in os.environ.get("BENCH_HOSTS", "").split(",") if h]
    on = lambda r: ["bash", os.path.join(ROOT, "scripts", "hosts-local.sh"), "run", hosts[r]] if hosts else []
    procs = [subprocess.Popen([*on(r), exe, str(r), "2", port, str(rounds), *(hosts[:1] if hosts else [])], stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}) for r in range(2)]
    out, _ = procs[0].communicate()
    procs[1].wait()
    sys.stdout.write(out)
    sys.exit(0)

if workload == "rendezvous" and "RANK" not in os.environ:
    # 4 ranks, PyTorch's TCPStore hosted by rank 0 (init_process_group's env:// default)
    for r in range(rounds):
        port = str(free_port())
        procs = [subprocess.Popen([sys.executable, __file__, workload, "1"], stdout=subprocess.PIPE if k == 0 else subprocess.DEVNULL, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(k), "WORLD_SIZE": "4", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port})
                 for k in range(4)]
        out, _ = procs[0].communicate()
        for p in procs[1:]:
            p.wait()
        rec = json.loads(out.strip().splitlines()[-1])
        print(json.dumps({"workload": workload, "side": "python", "round": r, **rec}), flush=True)
    sys.exit(0)

if workload == "ddp" and "RANK" not in os.environ:
    # torchrun's environment contract, set here: Debian's torchrun (1.13 on Python 3.11) fails
    # before starting workers (its Std enum parsing returns None for "0").
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, __file__, workload, str(rounds)], stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                                   "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "TORCHELASTIC_RUN_ID": "bench"}) for r in range(2)]
    out, _ = procs[0].communicate()
    codes = [procs[0].returncode, procs[1].wait()]
    sys.stdout.write(out)
    sys.exit(max(codes))

sys.path.insert(0, HERE)
from common import tune_allocator  # noqa: E402

tune_allocator()
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torchvision  # noqa: E402

torch.set_num_threads(1)
t_init = time.perf_counter()
dist.init_process_group("gloo")
init_ms = (time.perf_counter() - t_init) * 1000
rank = dist.get_rank()
if workload == "rendezvous":
    t = torch.ones(1)
    for _ in range(50):
        dist.all_reduce(t)
    n = 500
    t0 = time.perf_counter()
    for _ in range(n):
        dist.all_reduce(t)
    if rank == 0:
        print(json.dumps({"initMs": init_ms, "allReduceUs": (time.perf_counter() - t0) * 1e6 / n}), flush=True)
    dist.destroy_process_group()
    sys.exit(0)
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10)
m.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
ddp = torch.nn.parallel.DistributedDataParallel(m)
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))


def step():
    opt.zero_grad(set_to_none=True)
    loss_fn(ddp(x), y).backward()
    opt.step()


step()
for r in range(rounds):
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    s = (time.perf_counter() - t0) / 3
    if rank == 0:
        print(json.dumps({"workload": "ddp", "side": "python", "round": r, "stepSeconds": s, "imagesPerSecond": 2 * 128 / s}), flush=True)
dist.barrier()
dist.destroy_process_group()
