"""Joins kiln bench and peers JSON lines into one Markdown table of p50 latency, throughput and
Kiln/peer speed ratios (> 1: Kiln is faster).  python3 bench/summarize.py kiln.jsonl peers.jsonl
Kiln rows "<model>-fp16-io" (float16 channels-last I/O engines) are set against <model>'s peers."""
import json
import sys

IO_SUFFIX = "-fp16-io"  # run_device.sh's rows for engines with float16 NHWC I/O


def load(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main():
    kiln = {(r["model"], r["batch"]): r for r in load(sys.argv[1])}
    peers = {}
    for r in load(sys.argv[2]):
        peers.setdefault((r["model"], r["batch"]), {})[r["peer"]] = r
    names = ["torch_eager_fp16", "torch_compile_ro_fp16", "onnxruntime_cpu_fp32"]
    print("| model | batch | Kiln FP16 p50 ms | Kiln inf/s | " + " | ".join(f"{n} p50 ms | Kiln speedup vs {n}" for n in names) + " |")
    print("|" + "---|" * (4 + 2 * len(names)))
    for key in sorted(set(kiln) | set(peers)):
        k = kiln.get(key)
        row = [key[0], str(key[1]), f"{k['p50_ms']:.3f}" if k else "-", f"{k['throughput']:.0f}" if k else "-"]
        for n in names:
            p = peers.get((key[0].removesuffix(IO_SUFFIX), key[1]), {}).get(n)
            row.append(f"{p['p50_ms']:.3f}" if p else "-")
            row.append(f"{p['p50_ms'] / k['p50_ms']:.2f}x" if p and k else "-")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
