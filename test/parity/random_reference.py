"""Reference draws for torchlight's generator tests (test/torch/generator.test.ts):
/usr/bin/python3 test/parity/random_reference.py OUT.json"""
import json
import sys

import torch

g = torch.Generator().manual_seed(42)
out = {"randperm": torch.randperm(10, generator=g).tolist(), "rand": torch.rand(3, generator=g).tolist(),
       "randn": torch.randn(2, 2, generator=g).flatten().tolist(), "randint": torch.randint(3, 9, (5,), generator=g).tolist()}
g2 = torch.Generator().manual_seed(7)
state = g2.get_state()
out["state_len"] = state.numel()
out["after_state"] = torch.rand(2, generator=g2).tolist()
torch.manual_seed(3)
out["default_rand"] = torch.rand(2).tolist()
out["default_state_head"] = torch.get_rng_state()[:16].tolist()
json.dump(out, open(sys.argv[1], "w"))
