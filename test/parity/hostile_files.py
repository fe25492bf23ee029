"""Writes hostile torch.save files with Python's own pickler (the test loads them in torchlight).

usage: hostile_files.py OUT_DIR MARKER_PATH
- os_system.pt: an object whose reduce is os.system("touch MARKER") (weights-only must refuse it,
  and the opt-out must not run it)
- offset_huge.pt, offset_wrap.pt, size_overflow.pt, negative_stride.pt, past_end.pt: tensor
  views whose offset, size or stride fall outside a 4-element storage
- good.pt: a plain tensor [0, 1, 2, 3], the control
"""
import collections
import os
import sys

import torch

out, marker = sys.argv[1], sys.argv[2]


class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def view(offset, size, stride):
    storage = torch.arange(4, dtype=torch.float32).storage()
    return Reduce(torch._utils._rebuild_tensor_v2, (storage, offset, size, stride, False, collections.OrderedDict()))


torch.save({"x": Reduce(os.system, ("touch " + marker,))}, os.path.join(out, "os_system.pt"))
torch.save({"w": view(2**62 - 2**40, (4,), (1,))}, os.path.join(out, "offset_huge.pt"))
torch.save({"w": view(2**62 - 64, (4,), (1,))}, os.path.join(out, "offset_wrap.pt"))
torch.save({"w": view(0, (2**31, 2**31), (2**31, 1))}, os.path.join(out, "size_overflow.pt"))
torch.save({"w": view(3, (2,), (-1,))}, os.path.join(out, "negative_stride.pt"))
torch.save({"w": view(1, (2, 2), (2, 1))}, os.path.join(out, "past_end.pt"))
torch.save({"w": torch.arange(4, dtype=torch.float32)}, os.path.join(out, "good.pt"))
print("ok")
