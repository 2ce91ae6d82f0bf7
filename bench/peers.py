"""Times the peers on the same models and batches as kiln bench, in the same device call:
PyTorch eager (FP16, channels_last for CNNs), torch.compile mode=reduce-overhead, and
onnxruntime (CPU provider: the only one on the GPU machine). Median of many runs after warm-up,
inputs already on the GPU, CUDA events. Prints one JSON line per measurement.
    python3 bench/peers.py MODEL_DIR --models resnet50,... --batches 1,32,256 [--compile]"""
import argparse
import json
import time

import torch


def torch_model(name):
    import torchvision

    if name == "resnet50":
        return torchvision.models.resnet50(weights=None), (3, 224, 224), True
    if name == "mobilenetv2":
        return torchvision.models.mobilenet_v2(weights=None), (3, 224, 224), True
    if name == "vit_b16":
        return torchvision.models.vit_b_16(weights=None), (3, 224, 224), False
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(attn_implementation="eager"), add_pooling_layer=True), (128,), False


def time_cuda(fn, warmup=10, iters=50):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def make_input(name, shape, batch, channels_last):
    if name == "bert_base":
        return torch.randint(0, 30522, (batch,) + shape, device="cuda")
    x = torch.randn((batch,) + shape, device="cuda", dtype=torch.float16)
    return x.to(memory_format=torch.channels_last) if channels_last else x


def report(**kw):
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--models", default="resnet50,mobilenetv2,vit_b16,bert_base")
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--ort", action="store_true")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    for name in args.models.split(","):
        torch.manual_seed(0)
        model, shape, cl = torch_model(name)
        model = model.eval().cuda().half()
        if cl:
            model = model.to(memory_format=torch.channels_last)
        batches = [int(b) for b in args.batches.split(",")]
        if name == "bert_base":
            batches = [min(b, 128) for b in batches]
        for batch in batches:
            x = make_input(name, shape, batch, cl)
            with torch.inference_mode():
                ms = time_cuda(lambda: model(x))
            report(model=name, batch=batch, peer="torch_eager_fp16", p50_ms=ms, throughput=batch * 1000 / ms)
            if args.compile:
                t0 = time.time()
                compiled = torch.compile(model, mode="reduce-overhead")
                with torch.inference_mode():
                    compiled(x)
                    compile_s = time.time() - t0
                    ms = time_cuda(lambda: compiled(x))
                report(model=name, batch=batch, peer="torch_compile_ro_fp16", p50_ms=ms, throughput=batch * 1000 / ms,
                       compile_s=compile_s)
                torch._dynamo.reset()
        if args.ort:
            import numpy as np
            import onnxruntime as ort

            sess = ort.InferenceSession(f"{args.model_dir}/{name}.onnx", providers=["CPUExecutionProvider"])
            feed_name = sess.get_inputs()[0].name
            feed = (np.random.randint(0, 30522, (1,) + shape) if name == "bert_base"
                    else np.random.randn(1, *shape).astype(np.float32))
            for _ in range(3):
                sess.run(None, {feed_name: feed})
            times = []
            for _ in range(10):
                t0 = time.perf_counter()
                sess.run(None, {feed_name: feed})
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            report(model=name, batch=1, peer="onnxruntime_cpu_fp32", p50_ms=times[5], throughput=1000 / times[5])


if __name__ == "__main__":
    main()
