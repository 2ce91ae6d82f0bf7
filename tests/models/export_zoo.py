#!/usr/bin/env python3
"""Exports the test model zoo to ONNX (opset 17, static shapes, random weights).

Needs PyTorch and torchvision (on Debian: apt-get install python3-torch python3-torchvision,
then run with /usr/bin/python3). Weights are random but seeded, so the files are reproducible.

    /usr/bin/python3 tests/models/export_zoo.py OUT_DIR [--small] [--only NAME ...]

--small exports only the few small models CI runs.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 17


class SelfAttention(nn.Module):
    """Multi-head attention written out (MatMul -> scale -> mask -> Softmax -> MatMul), the way
    exporters emit it for BERT/GPT-style models."""

    def __init__(self, dim, heads, causal):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // h)
        if self.causal:
            causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
            scores = scores.masked_fill(~causal, float("-inf"))
        if mask is not None:
            scores = scores + mask
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim, heads, causal=False, pre_norm=True, gelu_tanh=False):
        super().__init__()
        self.pre_norm = pre_norm
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, causal)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gelu_tanh = gelu_tanh

    def mlp(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh" if self.gelu_tanh else "none"))

    def forward(self, x, mask=None):
        if self.pre_norm:
            x = x + self.attn(self.ln1(x), mask)
            return x + self.mlp(self.ln2(x))
        x = self.ln1(x + self.attn(x, mask))
        return self.ln2(x + self.mlp(x))


class BertEncoder(nn.Module):
    def __init__(self, vocab=1000, dim=128, heads=4, layers=2, seq=32):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(seq, dim)
        self.ln = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList([Block(dim, heads, pre_norm=False) for _ in range(layers)])
        self.pool = nn.Linear(dim, dim)

    def forward(self, ids, attention_mask):
        t = ids.shape[1]
        x = self.ln(self.tok(ids) + self.pos(torch.arange(t).unsqueeze(0)))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for blk in self.blocks:
            x = blk(x, mask)
        return x, torch.tanh(self.pool(x[:, 0]))


class Gpt2Block(nn.Module):
    def __init__(self, dim=128, heads=4):
        super().__init__()
        self.block = Block(dim, heads, causal=True, pre_norm=True, gelu_tanh=True)
        self.ln_f = nn.LayerNorm(dim)

    def forward(self, x):
        return self.ln_f(self.block(x))


def conv_bn_act(cin, cout, k=3, s=1, act=nn.SiLU):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), act())


class YoloHead(nn.Module):
    """A small YOLO-style detector: strided CSP-ish backbone, two scales, detection convs."""

    def __init__(self, classes=8, anchors=3):
        super().__init__()
        self.stem = conv_bn_act(3, 16, 3, 2)
        self.s1 = nn.Sequential(conv_bn_act(16, 32, 3, 2), conv_bn_act(32, 32))
        self.s2 = nn.Sequential(conv_bn_act(32, 64, 3, 2), conv_bn_act(64, 64))
        self.s3 = nn.Sequential(conv_bn_act(64, 128, 3, 2), conv_bn_act(128, 128))
        self.lat = conv_bn_act(128, 64, 1)
        self.fuse = conv_bn_act(128, 64)
        self.out = (anchors, classes + 5)
        self.det_small = nn.Conv2d(64, anchors * (classes + 5), 1)
        self.det_large = nn.Conv2d(128, anchors * (classes + 5), 1)

    def forward(self, x):
        p2 = self.s2(self.s1(self.stem(x)))
        p3 = self.s3(p2)
        up = F.interpolate(self.lat(p3), scale_factor=2.0, mode="nearest")
        f2 = self.fuse(torch.cat([up, p2], 1))
        outs = []
        for det, f in ((self.det_small, f2), (self.det_large, p3)):
            y = det(f)
            b, _, h, w = y.shape
            y = y.reshape(b, self.out[0], self.out[1], h, w).permute(0, 1, 3, 4, 2)
            outs.append(torch.sigmoid(y))
        return tuple(outs)


class UNet(nn.Module):
    def __init__(self, classes=4, base=16):
        super().__init__()
        act = nn.ReLU
        self.d1 = nn.Sequential(conv_bn_act(3, base, act=act), conv_bn_act(base, base, act=act))
        self.d2 = nn.Sequential(conv_bn_act(base, 2 * base, act=act), conv_bn_act(2 * base, 2 * base, act=act))
        self.mid = nn.Sequential(conv_bn_act(2 * base, 4 * base, act=act), conv_bn_act(4 * base, 4 * base, act=act))
        self.up2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, 2)
        self.u2 = conv_bn_act(4 * base, 2 * base, act=act)
        self.up1 = nn.ConvTranspose2d(2 * base, base, 2, 2)
        self.u1 = conv_bn_act(2 * base, base, act=act)
        self.head = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(F.max_pool2d(a, 2))
        m = self.mid(F.max_pool2d(b, 2))
        b2 = self.u2(torch.cat([self.up2(m), b], 1))
        a2 = self.u1(torch.cat([self.up1(b2), a], 1))
        return self.head(a2)


def vision(name, **kw):
    import torchvision.models as tvm
    return getattr(tvm, name)(weights=None, **kw)


class SmallViT(nn.Module):
    """ViT-style classifier (patch conv, class token, pre-norm blocks). torchvision's own ViT uses
    nn.MultiheadAttention, whose eval fast path torch 1.13 cannot export."""

    def __init__(self, image=64, patch=16, dim=128, heads=4, layers=2, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        n = (image // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x[:, 0]))


def image(n=1, size=224):
    return (torch.randn(n, 3, size, size),)


# name -> (constructor, example inputs, input names, output names, small?)
ZOO = {
    "resnet18": (lambda: vision("resnet18"), lambda: image(), ["input"], ["logits"], False),
    "resnet50": (lambda: vision("resnet50"), lambda: image(), ["input"], ["logits"], False),
    "mobilenet_v2": (lambda: vision("mobilenet_v2"), lambda: image(), ["input"], ["logits"], False),
    "mobilenet_v3_small": (lambda: vision("mobilenet_v3_small"), lambda: image(), ["input"], ["logits"], False),
    "efficientnet_b0": (lambda: vision("efficientnet_b0"), lambda: image(), ["input"], ["logits"], False),
    "vit_tiny": (SmallViT, lambda: image(1, 64), ["input"], ["logits"], True),
    "bert_tiny": (BertEncoder, lambda: (torch.randint(0, 1000, (2, 32)), torch.ones(2, 32, dtype=torch.int64)),
                  ["input_ids", "attention_mask"], ["hidden", "pooled"], True),
    "gpt2_block": (Gpt2Block, lambda: (torch.randn(1, 32, 128),), ["x"], ["y"], True),
    "yolo_head": (YoloHead, lambda: image(1, 128), ["images"], ["det_small", "det_large"], True),
    "unet_small": (UNet, lambda: image(1, 64), ["image"], ["mask"], True),
}


def randomize_batchnorm(model):
    # Fresh BatchNorm has mean 0 / var 1: folding would be trivially exact. Make it non-trivial.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def export(name, out_dir):
    ctor, inputs, in_names, out_names, _ = ZOO[name]
    torch.manual_seed(0)
    model = ctor().eval()
    randomize_batchnorm(model)
    args = inputs()
    path = os.path.join(out_dir, name + ".onnx")
    kwargs = dict(opset_version=OPSET, input_names=in_names, output_names=out_names, do_constant_folding=True)
    with torch.no_grad():
        try:  # torch >= 2.9 exports through dynamo by default; keep the TorchScript exporter
            torch.onnx.export(model, args, path, dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo switch
            torch.onnx.export(model, args, path, **kwargs)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--small", action="store_true", help="only the small models CI runs")
    ap.add_argument("--only", nargs="*", help="model names")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    names = a.only or [n for n in ZOO if not a.small or ZOO[n][4]]
    failed = 0
    for n in names:
        if n not in ZOO:
            print(f"unknown model {n}; known: {', '.join(ZOO)}", file=sys.stderr)
            return 2
        try:
            print(f"exported {export(n, a.out_dir)}")
        except Exception as e:  # keep going: one exporter problem must not hide the rest
            print(f"FAILED {n}: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
