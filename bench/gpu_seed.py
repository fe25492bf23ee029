"""The seed program in Python Lightning on one GPU, beside bench/gpu_seed.ts (scripts/gpu-check.sh):
python3 bench/gpu_seed.py [--steps N] [--split train|test] [--root DIR]

The same ResNet-18 (torchvision's, conv1 replaced for 1 channel), FashionMNIST, batch 128,
Adam 1e-3, Lightning Trainer(accelerator="gpu", devices=1). Steady images/s over steps
WARM..N (each timed step ends by reading the loss), end to end time. One JSON line.
"""
import argparse
import json
import time

import torch
import torchvision
from torchvision import transforms as T

try:
    import lightning.pytorch as pl
except ImportError:
    import pytorch_lightning as pl

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=60)
p.add_argument("--split", default="test")
p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
args = p.parse_args()
WARM, BATCH = 10, 128
t0 = time.perf_counter()


class ImageClassifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = torchvision.models.resnet18(num_classes=10)
        self.model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.times = []

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.criterion(self(x), y)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        outputs["loss"].item()  # waits for the GPU
        self.times.append(time.perf_counter())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class IdxFashion(torch.utils.data.Dataset):
    """FashionMNIST from the IDX files (gzipped or not) in --root: the dataset class of
    torchvision expects its own folder layout."""

    def __init__(self, root, train):
        import gzip
        import os
        import numpy as np
        name = "train" if train else "t10k"

        def read(stem, offset):
            for path in (f"{root}/{stem}", f"{root}/{stem}.gz"):
                if os.path.exists(path):
                    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
                    return np.frombuffer(raw, dtype=np.uint8, offset=offset)
            raise FileNotFoundError(f"{root}/{stem}(.gz)")

        self.images = torch.from_numpy(read(f"{name}-images-idx3-ubyte", 16).copy()).reshape(-1, 28, 28)
        self.labels = torch.from_numpy(read(f"{name}-labels-idx1-ubyte", 8).copy()).long()
        self.tf = T.Compose([T.ToTensor(), T.Normalize([0.28604], [0.32025])])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.tf(self.images[i].numpy()), self.labels[i]


data = IdxFashion(args.root, args.split == "train")
loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True)
trainer = pl.Trainer(max_steps=args.steps, accelerator="gpu", devices=1, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, logger=False)
module = ImageClassifier()
trainer.fit(module, train_dataloaders=loader)
t = module.times
print(json.dumps({"python": {"imagesPerSecond": (len(t) - WARM) * BATCH / (t[-1] - t[WARM - 1]), "steps": len(t),
                             "endToEndSeconds": time.perf_counter() - t0, "torch": torch.__version__}}))
