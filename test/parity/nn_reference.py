"""Reference values for torchlight's nn parity tests (test/nn/layers.test.ts), computed by
Python PyTorch on the same libtorch: /usr/bin/python3 test/parity/nn_reference.py OUT.json

Each case seeds the global generator with its seed, builds the module (so default
initialisation can be compared bit for bit), then runs forward on inputs drawn from a
separate generator (written out so both sides use the very same numbers) and backward of
sum(output * w) with w = linspace(-1, 1). It records the initial state dict, the output,
the gradients of the parameters and inputs, and the buffers after forward.
"""
import json
import sys

import torch

import onednn_check  # noqa: F401  (turns oneDNN off where its gradients are wrong, as torchlight does)
import torch.nn as nn

torch.set_num_threads(2)
g = torch.Generator().manual_seed(4321)


def r(*shape):
    return torch.randn(*shape, generator=g)


def ints(lo, hi, *shape):
    return torch.randint(lo, hi, shape, generator=g)


# name: (seed, make module, inputs, train mode)
CASES = {
    "linear": (1, lambda: nn.Linear(5, 3), lambda: [r(4, 5)], True),
    "linear_nobias": (2, lambda: nn.Linear(5, 3, bias=False), lambda: [r(2, 4, 5)], True),
    "bilinear": (3, lambda: nn.Bilinear(3, 4, 2), lambda: [r(5, 3), r(5, 4)], True),
    "conv1d": (4, lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), lambda: [r(2, 2, 9)], True),
    "conv2d": (5, lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False), lambda: [r(2, 3, 8, 8)], True),
    "conv2d_groups": (6, lambda: nn.Conv2d(4, 6, (3, 1), groups=2), lambda: [r(1, 4, 5, 5)], True),
    "conv_transpose2d": (7, lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), lambda: [r(2, 3, 4, 4)], True),
    "batchnorm1d": (8, lambda: nn.BatchNorm1d(4), lambda: [r(6, 4)], True),
    "batchnorm2d": (9, lambda: nn.BatchNorm2d(3, momentum=None), lambda: [r(4, 3, 5, 5)], True),
    "batchnorm2d_eval": (10, lambda: nn.BatchNorm2d(3), lambda: [r(2, 3, 4, 4)], False),
    "layernorm": (11, lambda: nn.LayerNorm([4, 5]), lambda: [r(3, 4, 5)], True),
    "groupnorm": (12, lambda: nn.GroupNorm(2, 4), lambda: [r(2, 4, 3, 3)], True),
    "embedding": (13, lambda: nn.Embedding(10, 3, padding_idx=0), lambda: [ints(0, 10, 2, 4)], True),
    "dropout": (14, lambda: nn.Dropout(0.3), lambda: [r(4, 6)], True),
    "relu": (15, lambda: nn.ReLU(), lambda: [r(4, 5)], True),
    "leaky_relu": (16, lambda: nn.LeakyReLU(0.2), lambda: [r(4, 5)], True),
    "gelu": (17, lambda: nn.GELU(), lambda: [r(4, 5)], True),
    "gelu_tanh": (18, lambda: nn.GELU(approximate="tanh"), lambda: [r(4, 5)], True),
    "silu": (19, lambda: nn.SiLU(), lambda: [r(4, 5)], True),
    "tanh": (20, lambda: nn.Tanh(), lambda: [r(4, 5)], True),
    "sigmoid": (21, lambda: nn.Sigmoid(), lambda: [r(4, 5)], True),
    "softmax": (22, lambda: nn.Softmax(dim=1), lambda: [r(4, 5)], True),
    "log_softmax": (23, lambda: nn.LogSoftmax(dim=0), lambda: [r(4, 5)], True),
    "maxpool2d": (24, lambda: nn.MaxPool2d(2), lambda: [r(2, 3, 6, 6)], True),
    "maxpool2d_pad": (25, lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: [r(2, 3, 7, 7)], True),
    "avgpool2d": (26, lambda: nn.AvgPool2d(2), lambda: [r(2, 3, 6, 6)], True),
    "adaptive_avgpool2d": (27, lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: [r(2, 3, 7, 8)], True),
    "flatten": (28, lambda: nn.Flatten(), lambda: [r(2, 3, 4)], True),
    "identity": (29, lambda: nn.Identity(), lambda: [r(2, 3)], True),
    "sequential": (30, lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 3)), lambda: [r(5, 6)], True),
    "mha": (31, lambda: nn.MultiheadAttention(8, 2), lambda: [r(5, 3, 8)], True),
    "mha_mask": (32, lambda: nn.MultiheadAttention(8, 4, batch_first=True), lambda: [r(2, 5, 8), torch.tensor([[False] * 4 + [True], [False] * 5])], True),
    "mha_kdim": (35, lambda: nn.MultiheadAttention(8, 2, kdim=5, vdim=6), lambda: [r(4, 2, 8), r(3, 2, 5), r(3, 2, 6)], True),
    "mha_bias_kv": (36, lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True), lambda: [r(4, 2, 8), torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)], True),
    "transformer_layer": (33, lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), lambda: [r(4, 2, 8)], True),
    "transformer_layer_norm_first_gelu": (34, lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True), lambda: [r(2, 4, 8)], True),
    # losses: module(input, target)
    "cross_entropy": (40, lambda: nn.CrossEntropyLoss(), lambda: [r(6, 4), ints(0, 4, 6)], True),
    "cross_entropy_opts": (41, lambda: nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 1.5]), ignore_index=1, label_smoothing=0.1), lambda: [r(6, 4), ints(0, 4, 6)], True),
    "cross_entropy_probs": (42, lambda: nn.CrossEntropyLoss(reduction="sum"), lambda: [r(3, 4), torch.softmax(r(3, 4), 1)], True),
    "cross_entropy_2d": (43, lambda: nn.CrossEntropyLoss(reduction="none"), lambda: [r(2, 3, 4, 4), ints(0, 3, 2, 4, 4)], True),
    "nll": (44, lambda: nn.NLLLoss(weight=torch.tensor([0.2, 1.0, 3.0])), lambda: [torch.log_softmax(r(5, 3), 1), ints(0, 3, 5)], True),
    "mse": (45, lambda: nn.MSELoss(), lambda: [r(4, 3), r(4, 3)], True),
    "mse_none": (46, lambda: nn.MSELoss(reduction="none"), lambda: [r(4, 3), r(4, 3)], True),
    "l1": (47, lambda: nn.L1Loss(reduction="sum"), lambda: [r(4, 3), r(4, 3)], True),
    "smooth_l1": (48, lambda: nn.SmoothL1Loss(beta=0.5), lambda: [r(4, 3), r(4, 3)], True),
    "huber": (49, lambda: nn.HuberLoss(delta=0.7), lambda: [r(4, 3), r(4, 3)], True),
    "bce": (50, lambda: nn.BCELoss(weight=torch.tensor([1.0, 0.5, 2.0])), lambda: [torch.sigmoid(r(4, 3)), torch.rand(4, 3, generator=g)], True),
    "bce_logits": (51, lambda: nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 3.0, 0.5])), lambda: [r(4, 3), torch.rand(4, 3, generator=g)], True),
    "kl_div": (52, lambda: nn.KLDivLoss(reduction="batchmean"), lambda: [torch.log_softmax(r(4, 5), 1), torch.softmax(r(4, 5), 1)], True),
    "kl_div_log_target": (53, lambda: nn.KLDivLoss(reduction="sum", log_target=True), lambda: [torch.log_softmax(r(4, 5), 1), torch.log_softmax(r(4, 5), 1)], True),
}


def enc(t):
    t = t.detach()
    data = [bool(v) for v in t.flatten().tolist()] if t.dtype == torch.bool else t.flatten().tolist()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": data}


out = {}
for name, (seed, make, make_inputs, train) in CASES.items():
    inputs = make_inputs()
    torch.manual_seed(seed)
    m = make()
    m.train(train)
    case = {"seed": seed, "init": {k: enc(v) for k, v in m.state_dict().items()}, "inputs": [enc(x) for x in inputs]}
    xs = [x.clone().requires_grad_(x.is_floating_point() and i == 0) for i, x in enumerate(inputs)]
    torch.manual_seed(seed + 1000)  # for dropout
    if name == "mha_mask":
        y = m(xs[0], xs[0], xs[0], key_padding_mask=xs[1])
    elif name == "mha_bias_kv":
        y = m(xs[0], xs[0], xs[0], attn_mask=xs[1])
    elif name == "mha_kdim":
        y = m(xs[0], xs[1], xs[2])
    elif name.startswith("mha"):
        y = m(xs[0], xs[0], xs[0])
    else:
        y = m(*xs)
    weights = None
    if isinstance(y, tuple):
        y, weights = y
    case["output"] = enc(y)
    if weights is not None:
        case["weights"] = enc(weights)
    w = torch.linspace(-1, 1, y.numel()).reshape(y.shape) if y.dim() else torch.tensor(0.7)
    (y * w).sum().backward()
    case["grads"] = {k: enc(p.grad) for k, p in m.named_parameters() if p.grad is not None}
    case["input_grad"] = enc(xs[0].grad) if xs[0].grad is not None else None
    case["buffers"] = {k: enc(b) for k, b in m.named_buffers()}
    out[name] = case

# nn.init functions: (seed, shape, fn), applied to an empty tensor after seeding
INITS = {
    "uniform": (60, (3, 4), lambda t: nn.init.uniform_(t, -0.5, 2.0)),
    "normal": (61, (3, 4), lambda t: nn.init.normal_(t, 1.0, 0.5)),
    "constant": (62, (2, 3), lambda t: nn.init.constant_(t, 0.25)),
    "xavier_uniform": (63, (5, 4, 3), lambda t: nn.init.xavier_uniform_(t, gain=2.0)),
    "xavier_normal": (64, (5, 4), lambda t: nn.init.xavier_normal_(t)),
    "kaiming_uniform": (65, (6, 3, 2, 2), lambda t: nn.init.kaiming_uniform_(t, a=0.1, mode="fan_out", nonlinearity="leaky_relu")),
    "kaiming_normal": (66, (6, 3, 2, 2), lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu")),
    "trunc_normal": (67, (50,), lambda t: nn.init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0)),
    # a window far in the tail (since torch 2.12 the other branch of its rejection sampler)
    "trunc_normal_tail": (68, (200,), lambda t: nn.init.trunc_normal_(t, mean=0.0, std=1.0, a=1.5, b=4.0)),
}
inits = {}
for name, (seed, shape, fn) in INITS.items():
    torch.manual_seed(seed)
    inits[name] = enc(fn(torch.empty(*shape)))
json.dump({"torch": torch.__version__, "cases": out, "inits": inits}, open(sys.argv[1], "w"))
