"""Reference indices for torchlight's data tests (test/data/data.test.ts):
/usr/bin/python3 test/parity/data_reference.py OUT.json

DistributedSampler shards for several (size, replicas, seed, epoch, shuffle, drop_last),
RandomSampler orders (generator, replacement, num_samples), random_split, and the batches a
shuffling DataLoader yields after torch.manual_seed, two passes in a row."""
import json
import sys

import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, TensorDataset, random_split

out = {"distributed": [], "random": {}, "split": {}, "loader": []}
for size, replicas, seed, epoch, shuffle, drop_last in [
    (10, 3, 0, 0, True, False), (10, 3, 0, 1, True, False), (10, 3, 5, 2, True, True), (7, 4, 1, 0, False, False),
    (100, 8, 42, 3, True, False), (5, 8, 0, 0, True, False), (1000, 3, 7, 11, True, True),
]:
    shards = []
    for rank in range(replicas):
        s = DistributedSampler(range(size), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        shards.append(list(s))
    out["distributed"].append({"args": [size, replicas, seed, epoch, shuffle, drop_last], "shards": shards})

out["random"]["generator"] = list(RandomSampler(range(12), generator=torch.Generator().manual_seed(3)))
out["random"]["replacement"] = list(RandomSampler(range(12), replacement=True, num_samples=40, generator=torch.Generator().manual_seed(4)))
out["random"]["num_samples"] = list(RandomSampler(range(5), num_samples=12, generator=torch.Generator().manual_seed(5)))
torch.manual_seed(6)
out["random"]["default"] = list(RandomSampler(range(9)))
out["random"]["batches"] = list(BatchSampler(RandomSampler(range(10), generator=torch.Generator().manual_seed(8)), 3, drop_last=False))
out["split"]["lengths"] = [s.indices for s in random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))]
out["split"]["fractions"] = [s.indices for s in random_split(range(11), [0.3, 0.3, 0.4], generator=torch.Generator().manual_seed(1))]

ds = TensorDataset(torch.arange(26).float().view(13, 2), torch.arange(13))
torch.manual_seed(9)
loader = DataLoader(ds, batch_size=4, shuffle=True)
for epoch in range(2):
    out["loader"].append([yb.tolist() for _, yb in loader])
out["after_loader_rand"] = torch.rand(2).tolist()
json.dump(out, open(sys.argv[1], "w"))
