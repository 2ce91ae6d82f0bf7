#!/usr/bin/python3
"""Trains the Fashion-MNIST demo CNN and exports it to ONNX.

Not run by `make`: model.onnx and metrics.json are committed. Re-run with the Debian
PyTorch (`apt-get install python3-torch`, then `/usr/bin/python3 models/fashion_mnist/train.py`).

Preprocessing (the demo does exactly the same): each uint8 pixel p becomes the float32
p / 255.0; images are fed as NCHW [batch, 1, 28, 28]; the model outputs 10 logits.
"""
import gzip
import inspect
import json
import os
import random
import struct
import time

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT_DIR = os.environ.get("OUT_DIR_MODEL", os.path.dirname(os.path.abspath(__file__)))
SEED = 20261125
EPOCHS = 3
BATCH = 128
OPSET = 13


def read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got_magic = struct.unpack(">I", data[:4])[0]
    assert got_magic == magic, f"{path}: magic {got_magic:#x}, expected {magic:#x}"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), f"{path}: size mismatch"
    return arr.reshape(dims)


def load(split):
    images = read_idx(f"{DATA_DIR}/{split}-images-idx3-ubyte.gz", 0x803, 3)
    labels = read_idx(f"{DATA_DIR}/{split}-labels-idx1-ubyte.gz", 0x801, 1)
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return 100.0 * correct / len(x)


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", "2")))
    x_train, y_train = load("train")
    x_test, y_test = load("t10k")
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    start = time.time()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(x_train), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(x_train):.4f}, test accuracy "
              f"{accuracy(model, x_test, y_test):.2f}% ({time.time() - start:.0f} s)", flush=True)

    model.eval()
    test_acc = accuracy(model, x_test, y_test)
    first_1000_acc = accuracy(model, x_test[:1000], y_test[:1000])
    onnx_path = os.path.join(OUT_DIR, "model.onnx")
    # The TorchScript exporter (torch >= 2.9 defaults to the dynamo one, which needs onnxscript).
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path, opset_version=OPSET, **legacy,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    metrics = {
        "dataset": "Fashion-MNIST test set (t10k, 10000 images), Debian package dataset-fashion-mnist",
        "test_images": len(x_test),
        "test_accuracy_percent": round(test_acc, 2),
        "correct": int(round(test_acc * len(x_test) / 100.0)),
        "first_1000_accuracy_percent": round(first_1000_acc, 2),
        "preprocessing": "float32 NCHW [batch,1,28,28], each pixel = uint8 / 255.0 (no mean/std)",
        "input": "input: float32[batch,1,28,28]",
        "output": "logits: float32[batch,10] (argmax = class)",
        "opset": OPSET,
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "optimizer": "Adam lr=1e-3",
        "seed": SEED,
        "torch_version": torch.__version__,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    with open(os.path.join(OUT_DIR, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
