"""The Python side of torchlight's serialization tests (test/nn/serialization.test.ts):
/usr/bin/python3 test/parity/serialization.py DIR OUT.json

Reads what torchlight wrote in DIR (tl_*.pt, tl_model.safetensors), checks it with Python's
torch.load / load_state_dict / Adam.load_state_dict, writes Python files for torchlight to
read (py_*.pt, py_model.safetensors), and reports values as JSON. The safetensors reader and
writer here follow the format's spec directly (Debian has no safetensors package).
"""
import json
import os
import struct
import sys

import torch

import onednn_check  # noqa: F401  (turns oneDNN off where its gradients are wrong, as torchlight does)
import torch.nn as nn

torch.set_num_threads(2)
d, out_path = sys.argv[1], sys.argv[2]
CODES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
         "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def enc(t):
    t = t.detach()
    data = [bool(v) for v in t.flatten().tolist()] if t.dtype == torch.bool else t.flatten().tolist()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": data}


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        out[k] = torch.frombuffer(buf, dtype=CODES[v["dtype"]]).reshape(v["shape"]) if b > a else torch.empty(v["shape"], dtype=CODES[v["dtype"]])
    return out, header.get("__metadata__")


def write_safetensors(tensors, path):
    names = {v: k for k, v in CODES.items()}
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, t in tensors.items():
        b = t.contiguous().numpy().tobytes() if t.dtype != torch.bfloat16 else t.contiguous().view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


report = {}
# torchlight's files, read by Python
# the default load of each line: weights_only=True since 2.6, so only allowed globals pass
sd = torch.load(os.path.join(d, "tl_model.pt"))
m = net()
report["load_state_dict"] = str(m.load_state_dict(sd, strict=True))
st, meta = read_safetensors(os.path.join(d, "tl_model.safetensors"))
report["safetensors_metadata"] = meta
report["safetensors_equal_pt"] = all(torch.equal(st[k], sd[k]) for k in sd) and sorted(st) == sorted(sd)
report["tl_state"] = {k: enc(v) for k, v in sd.items()}
nested = torch.load(os.path.join(d, "tl_nested.pt"))
report["nested_types"] = {k: type(v).__name__ for k, v in nested.items()}
report["nested"] = {k: (enc(v) if torch.is_tensor(v) else v) for k, v in nested.items() if k != "tensors"}
report["nested_tensors"] = [enc(t) for t in nested["tensors"]]
opt = torch.optim.Adam(m.parameters(), lr=0.5)
opt.load_state_dict(torch.load(os.path.join(d, "tl_adam.pt")))
report["adam_lr"] = opt.param_groups[0]["lr"]
x = torch.linspace(-1, 1, 2 * 8 * 8).reshape(2, 1, 8, 8)
m.train()
m(x).pow(2).mean().backward()
opt.step()
report["after_step"] = {k: enc(v) for k, v in m.state_dict().items()}

# Python's files, for torchlight to read
torch.manual_seed(8)
p = net()
p(torch.linspace(-2, 2, 3 * 64).reshape(3, 1, 8, 8))  # training-mode forward: running stats move
torch.save(p.state_dict(), os.path.join(d, "py_model.pt"))
write_safetensors(dict(p.state_dict()), os.path.join(d, "py_model.safetensors"))
report["py_state"] = {k: enc(v) for k, v in p.state_dict().items()}
torch.save({"epoch": 3, "name": "run", "ratio": 0.25, "flags": (True, None), "big": 2 ** 40, "ids": {1: "a", 2: "b"},
            "half": torch.arange(4, dtype=torch.float16), "bf": torch.ones(2, dtype=torch.bfloat16), "ints": torch.arange(3),
            "view": torch.arange(10.0)[2:8:2], "param": nn.Parameter(torch.ones(2))}, os.path.join(d, "py_nested.pt"))
json.dump(report, open(out_path, "w"))
