"""Opens a torchlight Lightning checkpoint with Python's torch.load, loads its state_dict into
the equivalent Python module (Linear, Tanh, Dropout, Linear under `net.`) and prints its keys,
hyperparameters and the module's output for the given input."""
import json, sys
import torch

path, x = sys.argv[1], torch.tensor(json.loads(sys.argv[2]))
ckpt = torch.load(path)  # the default load: weights_only=True since 2.6, so only allowed globals pass
hp = ckpt["hyper_parameters"]
h = hp.get("hidden", 16)

class Regressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, h), torch.nn.Tanh(), torch.nn.Dropout(0), torch.nn.Linear(h, 2))
    def forward(self, x):
        return self.net(x)

m = Regressor()
m.load_state_dict(ckpt["state_dict"])
m.eval()
with torch.no_grad():
    y = m(x).tolist()
print(json.dumps({"keys": list(ckpt.keys()), "hparams": hp, "y": y, "epoch": ckpt["epoch"], "global_step": ckpt["global_step"],
                  "optimizer_states": len(ckpt["optimizer_states"])}))
