"""Imported first by every parity script that runs a convolution: the same oneDNN decision
that torchlight's addon makes when it loads (native/src/compat.h, mkldnn_self_check), so both
sides compute with the same kernels.

Debian 13's libtorch 2.6 (built against the system oneDNN 3.7) now and then computes wrong
float32 input gradients for convolutions with few channels when it runs on more than one
thread (up to 90 % off, a different answer from run to run). TORCHLIGHT_MKLDNN=0 or 1
decides; otherwise oneDNN is compared with ATen's own kernels over 48 inputs and turned off
where any disagrees.
"""
import os

import torch


def _input_grad(mkldnn, offset):
    torch.backends.mkldnn.enabled = mkldnn
    n = 2 * 1 * 12 * 12
    x = torch.zeros(n + offset)[offset:].reshape(2, 1, 12, 12)
    x.copy_(torch.sin(torch.arange(n, dtype=torch.float32)).reshape(2, 1, 12, 12))
    x.requires_grad_()
    w = torch.cos(torch.arange(8 * 1 * 3 * 3, dtype=torch.float32)).reshape(8, 1, 3, 3) * 0.3
    probe = torch.sin(torch.arange(2 * 8 * 12 * 12, dtype=torch.float32) * 0.7).reshape(2, 8, 12, 12)
    y = torch.nn.functional.conv2d(x, w, None, 1, 1)
    (grad,) = torch.autograd.grad((y * probe).sum(), x)
    return grad


def check():
    """Returns why oneDNN was turned off, or None where it stays on."""
    if not torch.backends.mkldnn.is_available():
        return None
    env = os.environ.get("TORCHLIGHT_MKLDNN")
    if env == "0":
        torch.backends.mkldnn.enabled = False
        return "TORCHLIGHT_MKLDNN=0"
    if env == "1" or not torch.backends.mkldnn.enabled:
        return None
    without = _input_grad(False, 0)
    scale = without.abs().max().item()
    err = max((_input_grad(True, off) - without).abs().max().item() for off in range(0, 48 * 16, 16))
    if err <= 1e-4 * max(scale, 1.0):
        torch.backends.mkldnn.enabled = True
        return None
    torch.backends.mkldnn.enabled = False
    return f"oneDNN's convolution input gradients disagree with ATen's (max error {err} of {scale})"


DISABLED = check()
