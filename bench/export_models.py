"""Exports the benchmark models (random weights, seeded) to ONNX with a symbolic batch dim.
Runs where PyTorch, torchvision and transformers are (the GPU machine):
    python3 bench/export_models.py OUT_DIR [NAME ...]
BERT is exported with input_ids only (no attention mask: every token attends, as in the
fixed-length benchmark), eager attention so the graph holds MatMul/Softmax."""
import os
import sys

import torch

OPSET = 17


def models():
    import torchvision

    yield "resnet50", lambda: torchvision.models.resnet50(weights=None), (1, 3, 224, 224)
    yield "mobilenetv2", lambda: torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224)
    yield "vit_b16", lambda: torchvision.models.vit_b_16(weights=None), (1, 3, 224, 224)
    yield "bert_base", bert, (1, 128)


def bert():
    from transformers import BertConfig, BertModel

    class Bert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = BertModel(BertConfig(attn_implementation="eager"), add_pooling_layer=True)

        def forward(self, input_ids):
            return self.model(input_ids=input_ids).last_hidden_state

    return Bert()


def randomize_batchnorm(model):
    """Fresh BatchNorm statistics and affine terms: with the initial ones (mean 0, var 1, gamma 1,
    beta 0) deep random networks produce near-zero outputs that make any comparison vacuous."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)


def export(name, make, shape, out_dir):
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        randomize_batchnorm(model)
        # torchvision zero-initializes ViT's classifier head: its output would be all zeros,
        # and every comparison against it vacuous.
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and m.weight.abs().max() == 0:
                torch.nn.init.normal_(m.weight, std=0.02)
    if name == "bert_base":
        example = torch.randint(0, 30522, shape, dtype=torch.int64)
    else:
        example = torch.randn(*shape)
    path = os.path.join(out_dir, name + ".onnx")
    kwargs = dict(opset_version=OPSET, input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    try:
        torch.onnx.export(model, (example,), path, dynamo=False, **kwargs)
    except TypeError:  # older torch without the dynamo switch
        torch.onnx.export(model, (example,), path, **kwargs)
    print(f"exported {name} -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)", flush=True)


def main():
    out_dir = sys.argv[1]
    only = set(sys.argv[2:])
    os.makedirs(out_dir, exist_ok=True)
    for name, make, shape in models():
        if only and name not in only:
            continue
        export(name, make, shape, out_dir)


if __name__ == "__main__":
    main()
