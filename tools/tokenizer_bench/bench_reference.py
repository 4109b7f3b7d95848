#!/usr/bin/env python3
"""Single-thread encode throughput: corvid vs Hugging Face tokenizers / sentencepiece.

Runs corvid-tokenizer-bench and the reference library on the same corpus lines (every file of
tests/data/tokenizer_corpus, line by line, repeated --repeat times) in the same run, and prints
tokens/s side by side with the ratio corvid / reference. The reference runs single-threaded:
tokenizers with RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false, sentencepiece with
num_threads=1. Best of --passes timed passes after one warm-up pass, as the C++ side does.

  python tools/tokenizer_bench/bench_reference.py --bench build/default/tools/tokenizer_bench/corvid-tokenizer-bench \\
      [--models DIR ...] [--corpus DIR] [--repeat N] [--passes P]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

MODELS_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "models")
DEFAULT_MODELS = ["stories260K", "tokenizers/llama2", "tokenizers/llama3", "tokenizers/qwen3"]


def read_lines(corpus):
    lines = []
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), encoding="utf-8", newline="") as f:
            lines += [l for l in f.read().split("\n") if l]
    return lines


def synthetic_corpus(folder, lines, seed=7):
    """Lines of random words (Latin, Cyrillic, CJK, digits, punctuation) that seldom repeat,
    so that neither side's pre-token cache can help much."""
    rng = random.Random(seed)
    alphabets = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                 "абвгдежзийклмнопрстуфхцчшщыэюя", "的一是不了人我在有他这中大来上国个到说们",
                 "0123456789", ".,;:!?()[]{}'\"-+=*/"]
    out = []
    for _ in range(lines):
        words = []
        for _ in range(rng.randint(3, 25)):
            a = rng.choice(alphabets)
            words.append("".join(rng.choice(a) for _ in range(rng.randint(1, 12))))
        out.append(" ".join(words))
    path = os.path.join(folder, "synthetic.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(out) + "\n")
    return folder


def best_of(passes, fn):
    fn()  # warm-up
    best, result = float("inf"), None
    for _ in range(passes):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def reference(model_dir, lines, passes):
    """[(label, seconds, tokens, load_seconds)] for the reference library of model_dir."""
    out = []
    if model_dir.endswith(".gguf"):
        return out  # no Python library reads GGUF vocabularies
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        from tokenizers import Tokenizer
        t = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        load = time.perf_counter() - t
        s, encs = best_of(passes, lambda: tok.encode_batch(lines, add_special_tokens=False))
        out.append(("HF tokenizers encode_batch", s, sum(len(e.ids) for e in encs), load))
        s, ids = best_of(passes, lambda: [tok.encode(l, add_special_tokens=False).ids
                                          for l in lines])
        out.append(("HF tokenizers encode loop", s, sum(len(i) for i in ids), load))
    else:
        import sentencepiece as spm
        t = time.perf_counter()
        sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
        load = time.perf_counter() - t
        s, ids = best_of(passes, lambda: sp.encode(lines, num_threads=1))
        out.append(("sentencepiece batch", s, sum(len(i) for i in ids), load))
        s, ids = best_of(passes, lambda: [sp.encode(l) for l in lines])
        out.append(("sentencepiece loop", s, sum(len(i) for i in ids), load))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to corvid-tokenizer-bench")
    ap.add_argument("--models", nargs="*",
                    default=[os.path.join(MODELS_DIR, m) for m in DEFAULT_MODELS])
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "tests", "data", "tokenizer_corpus"))
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--synthetic", type=int, default=0, metavar="LINES",
                    help="instead of the corpus, LINES lines of random words (no repeats)")
    args = ap.parse_args()
    if args.synthetic:
        args.corpus = synthetic_corpus(tempfile.mkdtemp(), args.synthetic)
        args.repeat = 1
    lines = read_lines(args.corpus) * args.repeat
    nbytes = sum(len(l.encode("utf-8")) for l in lines)
    print(f"corpus: {len(lines)} lines, {nbytes / 1e6:.2f} MB; single thread; best of "
          f"{args.passes} passes")
    header = f"{'model':<22} {'implementation':<28} {'tokens':>9} {'tokens/s':>12} {'MB/s':>8} " \
             f"{'load ms':>8} {'corvid/ref':>10}"
    print(header)
    print("-" * len(header))
    for model in args.models:
        name = os.path.basename(os.path.normpath(model))
        cmd = [args.bench, "--model", model, "--corpus", args.corpus, "--repeat",
               str(args.repeat), "--passes", str(args.passes), "--json"]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                         text=True).stdout)
        ours_rate = ours["tokens"] / ours["encode_s"]
        print(f"{name:<22} {'corvid':<28} {ours['tokens']:>9} {ours_rate:>12,.0f} "
              f"{ours['bytes'] / ours['encode_s'] / 1e6:>8.2f} {ours['load_s'] * 1e3:>8.1f} "
              f"{'':>10}")
        for label, seconds, tokens, load in reference(model, lines, args.passes):
            if tokens != ours["tokens"]:
                print(f"  WARNING: token counts differ ({tokens} vs {ours['tokens']})",
                      file=sys.stderr)
            rate = tokens / seconds
            print(f"{'':<22} {label:<28} {tokens:>9} {rate:>12,.0f} {nbytes / seconds / 1e6:>8.2f} "
                  f"{load * 1e3:>8.1f} {ours_rate / rate:>9.2f}x")


if __name__ == "__main__":
    main()
