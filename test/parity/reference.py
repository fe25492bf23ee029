"""Reference values for torchlight's parity tests, computed by Python PyTorch on the same
libtorch. Run by test/torch/parity.test.ts as: /usr/bin/python3 test/parity/reference.py OUT.json

Each case: inputs (seeded, written out so both sides use the very same numbers), the result
of the same expression in PyTorch, and, for cases marked grad, the gradient of
sum(result * w) with respect to every floating input (w fixed, so grads are not all ones).
"""
import json
import sys

import torch

import onednn_check  # noqa: F401  (turns oneDNN off where its gradients are wrong, as torchlight does)
import torch.nn.functional as F

torch.set_num_threads(2)
g = torch.Generator().manual_seed(1234)


def r(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def pos(*shape):
    return torch.rand(*shape, generator=g, dtype=torch.float32) + 0.5


def ints(lo, hi, *shape):
    return torch.randint(lo, hi, shape, generator=g, dtype=torch.int64)


# name: (inputs, fn, grad?)
CASES = {
    "add": ([r(3, 4), r(3, 4)], lambda a, b: a + b, True),
    "add_broadcast": ([r(3, 1), r(4)], lambda a, b: a + b, True),
    "add_alpha": ([r(3, 4), r(3, 4)], lambda a, b: torch.add(a, b, alpha=2.5), True),
    "add_scalar": ([r(5)], lambda a: a + 2, True),
    "sub": ([r(2, 3), r(2, 3)], lambda a, b: a - b, True),
    "mul": ([r(2, 3), r(2, 3)], lambda a, b: a * b, True),
    "div": ([r(2, 3), pos(2, 3)], lambda a, b: a / b, True),
    "div_floor": ([r(2, 3) * 5, pos(2, 3)], lambda a, b: torch.div(a, b, rounding_mode="floor"), False),
    "pow_scalar": ([pos(4)], lambda a: a ** 3, True),
    "pow_tensor": ([pos(4), r(4)], lambda a, b: a ** b, True),
    "remainder": ([r(6) * 4], lambda a: torch.remainder(a, 1.5), False),
    "int_add": ([ints(-5, 5, 6), ints(-5, 5, 6)], lambda a, b: a + b, False),
    "int_div_true": ([ints(-5, 5, 6)], lambda a: a / 2, False),
    "neg": ([r(5)], torch.neg, True),
    "abs": ([r(5)], torch.abs, True),
    "exp": ([r(5)], torch.exp, True),
    "log": ([pos(5)], torch.log, True),
    "sqrt": ([pos(5)], torch.sqrt, True),
    "rsqrt": ([pos(5)], torch.rsqrt, True),
    "sin": ([r(5)], torch.sin, True),
    "cos": ([r(5)], torch.cos, True),
    "tanh": ([r(5)], torch.tanh, True),
    "sigmoid": ([r(5)], torch.sigmoid, True),
    "relu": ([r(7)], torch.relu, True),
    "floor": ([r(7) * 3], torch.floor, False),
    "round": ([r(7) * 3], torch.round, False),
    "clamp": ([r(8)], lambda a: a.clamp(-0.5, 0.5), True),
    "maximum": ([r(4), r(4)], torch.maximum, True),
    "where": ([r(6), r(6), r(6)], lambda c, a, b: torch.where(c > 0, a, b), True),
    "sum_all": ([r(3, 4)], lambda a: a.sum(), True),
    "sum_dim": ([r(3, 4, 5)], lambda a: a.sum(1), True),
    "sum_dims_keepdim": ([r(3, 4, 5)], lambda a: a.sum((0, 2), keepdim=True), True),
    "mean_dim": ([r(3, 4)], lambda a: a.mean(-1), True),
    "prod_dim": ([r(3, 4)], lambda a: a.prod(1), True),
    "max_all": ([r(3, 4)], lambda a: a.max(), False),
    "max_dim_values": ([r(3, 4)], lambda a: a.max(1).values, True),
    "max_dim_indices": ([r(3, 4)], lambda a: a.max(1).indices, False),
    "argmin": ([r(3, 4)], lambda a: a.argmin(0), False),
    "std": ([r(3, 4)], lambda a: a.std(), True),
    "std_dim_unbiased0": ([r(3, 4)], lambda a: a.std(1, correction=0), True),
    "var_dim": ([r(3, 4)], lambda a: a.var(0, keepdim=True), True),
    "norm": ([r(3, 4)], lambda a: a.norm(), True),
    "norm_p1_dim": ([r(3, 4)], lambda a: a.norm(1, 1), True),
    "logsumexp": ([r(3, 4)], lambda a: a.logsumexp(1), True),
    "softmax": ([r(3, 4)], lambda a: a.softmax(1), True),
    "log_softmax": ([r(3, 4)], lambda a: a.log_softmax(0), True),
    "cumsum": ([r(3, 4)], lambda a: a.cumsum(1), True),
    "topk_values": ([r(10)], lambda a: a.topk(3).values, True),
    "sort_values": ([r(3, 5)], lambda a: a.sort(1, descending=True).values, True),
    "sort_indices": ([r(3, 5)], lambda a: a.sort(1).indices, False),
    "matmul": ([r(3, 4), r(4, 5)], torch.matmul, True),
    "matmul_batched": ([r(2, 3, 4), r(4, 5)], torch.matmul, True),
    "bmm": ([r(2, 3, 4), r(2, 4, 2)], torch.bmm, True),
    "einsum": ([r(2, 3), r(3, 4)], lambda a, b: torch.einsum("ij,jk->ik", a, b), True),
    "view_permute": ([r(2, 3, 4)], lambda a: a.view(6, 4).t().reshape(2, 2, 6).permute(2, 0, 1), True),
    "transpose_contig": ([r(2, 3)], lambda a: a.transpose(0, 1).contiguous(), True),
    "squeeze_unsqueeze": ([r(1, 3, 1)], lambda a: a.squeeze().unsqueeze(0), True),
    "flatten": ([r(2, 3, 4)], lambda a: a.flatten(1), True),
    "expand_repeat": ([r(3, 1)], lambda a: a.expand(3, 4) * a.repeat(1, 4), True),
    "cat": ([r(2, 3), r(1, 3)], lambda a, b: torch.cat([a, b], 0), True),
    "stack": ([r(2, 3), r(2, 3)], lambda a, b: torch.stack([a, b], 1), True),
    "split_second": ([r(5, 2)], lambda a: a.split(2)[1], True),
    "chunk_last": ([r(6, 2)], lambda a: a.chunk(3, 0)[2], True),
    "narrow_select": ([r(4, 5)], lambda a: a.narrow(1, 1, 3).select(0, 2), True),
    "index_slice": ([r(4, 5)], lambda a: a[1:4:2, 2], True),
    "index_tensor": ([r(4, 5), ints(0, 4, 3)], lambda a, i: a[i], True),
    "gather": ([r(3, 4), ints(0, 4, 3, 2)], lambda a, i: a.gather(1, i), True),
    "scatter": ([r(3, 4), ints(0, 4, 3, 1), r(3, 1)], lambda a, i, s: a.scatter(1, i, s), True),
    "index_select": ([r(4, 3), ints(0, 4, 5)], lambda a, i: a.index_select(0, i), True),
    "masked_fill": ([r(3, 4)], lambda a: a.masked_fill(a > 0, -1.0), True),
    "flip_tril": ([r(4, 4)], lambda a: a.flip(0).tril(), True),
    "eq": ([ints(0, 3, 8), ints(0, 3, 8)], torch.eq, False),
    "lt_scalar": ([r(8)], lambda a: a < 0.1, False),
    "ge": ([r(8), r(8)], torch.ge, False),
    "to_double": ([r(4)], lambda a: a.double() * 1.1, False),
    "to_int": ([r(4) * 10], lambda a: a.to(torch.int32), False),
    "f_linear": ([r(4, 5), r(3, 5), r(3)], lambda x, w, b: F.linear(x, w, b), True),
    "f_conv2d": ([r(2, 3, 8, 8), r(4, 3, 3, 3), r(4)], lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), True),
    "f_conv2d_7x7": ([r(2, 1, 28, 28), r(8, 1, 7, 7)], lambda x, w: F.conv2d(x, w, None, stride=2, padding=3), True),
    "f_batch_norm_train": ([r(4, 3, 5, 5), pos(3), r(3)],
                           lambda x, w, b: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True), True),
    "f_batch_norm_eval": ([r(4, 3, 5, 5), r(3) * 0.1, pos(3)],
                          lambda x, m, v: F.batch_norm(x, m, v, training=False), False),
    "f_max_pool2d": ([r(2, 3, 9, 9)], lambda x: F.max_pool2d(x, 3, stride=2, padding=1), True),
    "f_avg_pool2d": ([r(2, 3, 8, 8)], lambda x: F.avg_pool2d(x, 2), True),
    "f_adaptive_avg_pool2d": ([r(2, 3, 7, 7)], lambda x: F.adaptive_avg_pool2d(x, 1), True),
    "f_cross_entropy": ([r(6, 5), ints(0, 5, 6)], lambda x, y: F.cross_entropy(x, y), True),
    "f_cross_entropy_smooth_sum": ([r(6, 5), ints(0, 5, 6)], lambda x, y: F.cross_entropy(x, y, reduction="sum", label_smoothing=0.1), True),
    "chain_mlp": ([r(8, 5), r(4, 5), r(4), ints(0, 4, 8)],
                  lambda x, w, b, y: torch.nn.functional.cross_entropy(torch.relu(x @ w.t() + b), y), True),
}


def enc(t):
    t = t.detach()
    if t.dtype == torch.bool:
        data = [bool(v) for v in t.flatten().tolist()]
    else:
        data = t.flatten().tolist()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": data}


out = {}
for name, (inputs, fn, grad) in CASES.items():
    xs = [x.clone().requires_grad_(grad and x.is_floating_point()) for x in inputs]
    y = fn(*xs)
    case = {"inputs": [enc(x) for x in inputs], "output": enc(y)}
    if grad:
        w = torch.linspace(-1, 1, y.numel()).reshape(y.shape) if y.dim() else torch.tensor(0.7)
        (y * w).sum().backward()
        case["grads"] = [enc(x.grad) if x.grad is not None else None for x in xs]
    out[name] = case

json.dump({"torch": torch.__version__, "cases": out}, open(sys.argv[1], "w"))
