"""Reference trajectories for torchlight's optimizer and scheduler parity tests
(test/nn/optim.test.ts): /usr/bin/python3 test/parity/optim_reference.py OUT.json

Optimizers: W (4,3) and b (4) start from fixed values; each of 20 steps computes
loss = mean((W x + b - y)^2) with autograd, then optimizer.step(); W and b are recorded
after every step. Schedulers: SGD on the same problem, recording the learning rate (and
momentum or beta1 where the scheduler cycles it) after every scheduler.step().
"""
import json
import sys

import torch

torch.set_num_threads(2)
g = torch.Generator().manual_seed(99)
W0 = torch.randn(4, 3, generator=g)
B0 = torch.randn(4, generator=g)
X = torch.randn(3, 5, generator=g)
Y = torch.randn(4, 5, generator=g)
O = torch.optim
S = torch.optim.lr_scheduler

OPTIMIZERS = {
    "sgd": lambda p: O.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: O.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda p: O.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_maximize": lambda p: O.SGD(p, lr=0.01, maximize=True),
    "adam": lambda p: O.Adam(p, lr=0.01),
    "adam_wd_amsgrad": lambda p: O.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
    "adamw": lambda p: O.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda p: O.AdamW(p, lr=0.02, weight_decay=0.05, amsgrad=True, eps=1e-6),
    "rmsprop": lambda p: O.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda p: O.RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    "adagrad": lambda p: O.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "adam_groups": lambda p: O.Adam([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.001}], lr=0.02),
}

SCHEDULERS = {
    "step": (lambda o: S.StepLR(o, step_size=3, gamma=0.5), "sgd"),
    "multistep": (lambda o: S.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3), "sgd"),
    "exponential": (lambda o: S.ExponentialLR(o, gamma=0.9), "sgd"),
    "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001), "sgd"),
    "linear": (lambda o: S.LinearLR(o, start_factor=0.25, total_iters=6), "sgd"),
    "lambda": (lambda o: S.LambdaLR(o, lambda e: 0.95 ** e), "sgd"),
    "onecycle": (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=20), "sgd_momentum"),
    "onecycle_three_phase_linear": (lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=25, three_phase=True, anneal_strategy="linear", pct_start=0.25), "adam"),
    "sequential": (lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)], milestones=[4]), "sgd"),
    "plateau": (lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1), "sgd"),
}
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.9, 0.91, 0.92, 0.7, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77]


def params():
    return [W0.clone().requires_grad_(), B0.clone().requires_grad_()]


def loss_of(W, b):
    return ((W @ X + b.unsqueeze(1) - Y) ** 2).mean()


def enc(t):
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.detach().flatten().tolist()}


out = {"init": {"W": enc(W0), "b": enc(B0), "X": enc(X), "Y": enc(Y)}, "optimizers": {}, "schedulers": {}}
for name, make in OPTIMIZERS.items():
    p = params()
    opt = make(p)
    traj = []
    for _ in range(20):
        opt.zero_grad()
        loss_of(*p).backward()
        opt.step()
        traj.append({"W": enc(p[0]), "b": enc(p[1])})
    out["optimizers"][name] = traj

for name, (make, opt_name) in SCHEDULERS.items():
    p = params()
    opt = OPTIMIZERS[opt_name](p)
    sched = make(opt)
    steps = 25 if "three_phase" in name else 20
    rec = []
    for i in range(steps):
        opt.zero_grad()
        loss_of(*p).backward()
        opt.step()
        if name == "plateau":
            sched.step(PLATEAU_METRICS[i])
        else:
            sched.step() if i < steps - 1 else None
        grp = opt.param_groups[0]
        rec.append({"lr": grp["lr"], "momentum": grp.get("momentum"), "beta1": grp["betas"][0] if "betas" in grp else None})
    out["schedulers"][name] = rec

json.dump(out, open(sys.argv[1], "w"))
