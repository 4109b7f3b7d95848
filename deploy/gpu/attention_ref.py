"""Times torch.nn.functional.scaled_dot_product_attention (flash backend) on the shapes
corvid-bench timed its own attention kernels on, and prints both with the ratio.

usage: python3 attention_ref.py ATTN_TXT   (lines: kind batch len corvid_us; a kind
"prefill/vN" is a prefill kernel variant, compared with the same torch prefill)
Shapes: Llama-3-8B heads (32 query, 8 KV, head_dim 128), bf16; prefill is causal over a fresh
prompt, decode is one query per sequence over `len` cached keys.
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HEADS, KV_HEADS, HEAD_DIM = 32, 8, 128


def median_us(fn, reps=30):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def torch_us(kind, batch, length):
    q_len = length if kind == "prefill" else 1
    dev, dt = "cuda", torch.bfloat16
    q = torch.randn(batch, HEADS, q_len, HEAD_DIM, device=dev, dtype=dt)
    k = torch.randn(batch, KV_HEADS, length, HEAD_DIM, device=dev, dtype=dt)
    v = torch.randn(batch, KV_HEADS, length, HEAD_DIM, device=dev, dtype=dt)
    causal = kind == "prefill"
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        try:
            return median_us(lambda: F.scaled_dot_product_attention(
                q, k, v, is_causal=causal, enable_gqa=True)), "flash+gqa"
        except RuntimeError:
            # Flash without native GQA: expand K/V first (not timed).
            k2 = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
            v2 = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
            return median_us(lambda: F.scaled_dot_product_attention(
                q, k2, v2, is_causal=causal)), "flash(expanded kv)"


def main():
    rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
    print("\n== attention: corvid vs torch %s SDPA (same GPU, same run)" % torch.__version__)
    print("%12s %6s %6s %11s %11s %8s  %s" % ("kind", "batch", "len", "corvid_us", "torch_us",
                                           "ratio", "torch kernel"))
    done = {}
    for kind, batch, length, ours in rows:
        key = (kind.split("/")[0], int(batch), int(length))
        if key not in done:
            done[key] = torch_us(*key)
        ref, how = done[key]
        ratio = float(ours) / ref
        print("%12s %6s %6s %11.1f %11.1f %7.2fx  %s%s" % (kind, batch, length, float(ours), ref,
                                                         ratio, how,
                                                         "" if ratio <= 1.25 else "  (> 1.25x)"))


if __name__ == "__main__":
    main()
