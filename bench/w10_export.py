#!/usr/bin/python3
"""w10_export.py DIR -- writes W10's models as ONNX files (torch.onnx.export, random weights) for
bench/w10.lua (dagl) and bench/w10_ort.js (ONNX Runtime), with each model's input and PyTorch's
output as .npy files, so both runtimes run the same file on the same input and are checked
against the same reference:

  DIR/<name>.onnx, DIR/<name>.x.npy, DIR/<name>.y.npy, DIR/models.txt (one "name input-shape" line each)

The models (issue 15's W10): W1's MLP (1000x100 -> 64 relu -> 64 relu -> 10 softmax), W3's 4x4
branches (4 chains of 4 Linear(512), batch 256, summed), torchvision's resnet18 at batch 1 and 8
(224x224), and a transformer encoder layer (d_model 256, 4 heads, feed-forward 1024, sequence 128,
batch 8; W11's shape). Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision)."""
import os
import sys

import numpy as np
import torch
import torchvision

out = sys.argv[1] if len(sys.argv) > 1 else "bench/.cache/w10"
os.makedirs(out, exist_ok=True)
torch.manual_seed(10)


class Branches(torch.nn.Module):
    """W3: the sum of nb chains of depth Linear(width) layers."""

    def __init__(self, nb, depth, width):
        super().__init__()
        self.chains = torch.nn.ModuleList(
            torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(depth)]) for _ in range(nb))

    def forward(self, x):
        acc = None
        for chain in self.chains:
            h = chain(x)
            acc = h if acc is None else acc + h
        return acc


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(100, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 10), torch.nn.Softmax(dim=1))


def encoder():
    return torch.nn.TransformerEncoderLayer(d_model=256, nhead=4, dim_feedforward=1024, dropout=0.0,
                                            batch_first=True)


resnet = torchvision.models.resnet18(weights=None)
models = [
    ("mlp", mlp(), (1000, 100), 13),
    ("w3_branches", Branches(4, 4, 512), (256, 512), 13),
    ("resnet18_b1", resnet, (1, 3, 224, 224), 13),
    ("resnet18_b8", resnet, (8, 3, 224, 224), 13),
    ("transformer", encoder(), (8, 128, 256), 17),
]
lines = []
for name, module, shape, opset in models:
    module.eval()
    x = torch.randn(*shape)
    path = os.path.join(out, name + ".onnx")
    # outside no_grad: under it the encoder layer takes its fused fast path, which has no ONNX export
    torch.onnx.export(module, (x,), path, opset_version=opset, input_names=["x"], output_names=["y"])
    with torch.no_grad():
        y = module(x)
    np.save(os.path.join(out, name + ".x.npy"), x.numpy())
    np.save(os.path.join(out, name + ".y.npy"), y.numpy())
    lines.append("%s %s\n" % (name, "x".join(str(d) for d in shape)))
    print("w10_export: %s %s" % (name, list(shape)), file=sys.stderr)
with open(os.path.join(out, "models.txt"), "w") as f:
    f.writelines(lines)
