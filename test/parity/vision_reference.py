"""Reference values for torchlight's vision tests (test/vision/vision.test.ts):
/usr/bin/python3 test/parity/vision_reference.py DIR OUT.json

- FashionMNIST through torchvision.datasets.FashionMNIST (the Debian files, unpacked into DIR):
  sizes, the first images and labels, and sample 12345 through ToTensor + Normalize.
- transforms on a fixed uint8 image tensor: resize, centerCrop, pad, and the random ones after
  torch.manual_seed (RandomCrop with padding, RandomHorizontalFlip, RandomResizedCrop).
- ResNet-18 (torchvision, conv1 changed to 1 channel 7x7/2 as in the target program):
  loads torchlight's DIR/tl_resnet18.pt strictly and gives its logits on a fixed batch;
  writes its own state dict to DIR/py_resnet18.pt with its logits.
"""
import gzip
import json
import os
import shutil
import sys

import torch

import onednn_check  # noqa: F401  (turns oneDNN off where its gradients are wrong, as torchlight does)
import torchvision
from torchvision import transforms as T

torch.set_num_threads(2)
d, out_path = sys.argv[1], sys.argv[2]
out = {}


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.flatten().tolist()}


src = "/usr/share/datasets/fashion-mnist"
raw = os.path.join(d, "FashionMNIST", "raw")
os.makedirs(raw, exist_ok=True)
for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
    with gzip.open(os.path.join(src, f + ".gz"), "rb") as fi, open(os.path.join(raw, f), "wb") as fo:
        shutil.copyfileobj(fi, fo)
train = torchvision.datasets.FashionMNIST(d, train=True)
test = torchvision.datasets.FashionMNIST(d, train=False)
out["sizes"] = [len(train), len(test)]
out["first_images"] = enc(train.data[:3])
out["first_labels"] = train.targets[:10].tolist()
out["test_labels"] = test.targets[:10].tolist()
tf = T.Compose([T.ToTensor(), T.Normalize([0.28604], [0.32025])])
out["sample_12345"] = enc(tf(train[12345][0]))
out["label_12345"] = train[12345][1]

img = (torch.arange(3 * 11 * 14) * 7 % 256).to(torch.uint8).reshape(3, 11, 14)
out["img"] = enc(img)
# antialias given on both sides: its default for tensors changed in torchvision 0.17 (False -> True)
out["resize_8"] = enc(T.Resize(8, antialias=True)(img))
out["resize_8_no_aa"] = enc(T.Resize(8, antialias=False)(img))
out["resize_hw"] = enc(T.Resize([5, 20], antialias=True)(img))
out["center_crop"] = enc(T.CenterCrop(6)(img))
out["center_crop_big"] = enc(T.CenterCrop([13, 15])(img))
out["pad"] = enc(T.Pad([1, 2, 3, 4], fill=9)(img))
torch.manual_seed(21)
out["random_crop"] = [enc(T.RandomCrop(10, padding=4)(img)) for _ in range(3)]
torch.manual_seed(22)
out["random_flip"] = [enc(T.RandomHorizontalFlip()(img)) for _ in range(4)]
torch.manual_seed(23)
out["random_resized_crop"] = [enc(T.RandomResizedCrop(7, antialias=True)(img.float())) for _ in range(3)]


def resnet():
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return m


x = torch.linspace(-2, 2, 4 * 28 * 28).reshape(4, 1, 28, 28)
m = resnet()
out["load_tl"] = str(m.load_state_dict(torch.load(os.path.join(d, "tl_resnet18.pt")), strict=True))
m.eval()
with torch.no_grad():
    out["logits_of_tl"] = enc(m(x))
torch.manual_seed(31)
p = resnet()
p.train()
p(x)  # running statistics move
p.eval()
torch.save(p.state_dict(), os.path.join(d, "py_resnet18.pt"))
with torch.no_grad():
    out["logits_of_py"] = enc(p(x))
json.dump(out, open(out_path, "w"))
