"""Greedy decoding of corvid's CUDA backend against Hugging Face transformers (the reference)
on synthetic Llama-3.2-1B- and Llama-3-8B-shaped checkpoints written on this machine by
corvid-make-checkpoint (bf16, seeded random weights).

Criterion per model: the 64 greedy tokens agree, or at the first divergence corvid's token is
among the reference's top-5 at that step (random weights give near-flat logits, where bf16
rounding can legitimately flip close calls).

usage: python3 hf_compare.py PACK_DIR [preset ...]
"""
import json
import random
import shutil
import subprocess
import sys
import time

import torch
from transformers import AutoModelForCausalLM

STEPS = 64


def reference(folder, prompt):
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.bfloat16)
    model = model.cuda().eval()
    model.generation_config.eos_token_id = None  # never stop early
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt], device="cuda"), max_new_tokens=STEPS,
                             do_sample=False, output_scores=True, return_dict_in_generate=True)
    tokens = out.sequences[0, len(prompt):].tolist()
    top5 = [torch.topk(s[0].float(), 5).indices.tolist() for s in out.scores]
    del model, out
    torch.cuda.empty_cache()
    return tokens, top5


def compare(pack, preset):
    folder = "/tmp/corvid-ckpt-" + preset
    t0 = time.time()
    subprocess.run([pack + "/bin/corvid-make-checkpoint", "--preset", preset, "--out", folder,
                    "--dtype", "bf16", "--seed", "1"], check=True)
    t1 = time.time()
    rng = random.Random(7)
    prompt = [1] + [rng.randrange(3, 500) for _ in range(20)]
    ref_tokens, ref_top5 = reference(folder, prompt)
    t2 = time.time()
    run = subprocess.run([pack + "/bin/corvid-cuda-generate", "--model", folder, "--prompt_ids",
                          ",".join(map(str, prompt)), "--steps", str(STEPS)],
                         check=True, capture_output=True, text=True)
    t3 = time.time()
    ours = json.loads(run.stdout)
    shutil.rmtree(folder, ignore_errors=True)
    tokens = ours["tokens"]
    diverge = next((i for i in range(STEPS) if tokens[i] != ref_tokens[i]), None)
    if diverge is None:
        verdict, agree = "PASS (all %d identical)" % STEPS, STEPS
    else:
        ok = tokens[diverge] in ref_top5[diverge]
        agree = diverge
        verdict = "%s (first divergence at step %d: corvid %d, reference top-5 %s)" % (
            "PASS" if ok else "FAIL", diverge, tokens[diverge], ref_top5[diverge])
    same_top1 = sum(1 for i in range(STEPS) if ours["top5"][i][:1] == ref_top5[i][:1])
    print("%s: %s; identical prefix %d/%d; times: write %.0fs, transformers %.0fs, corvid %.0fs"
          % (preset, verdict, agree, STEPS, t1 - t0, t2 - t1, t3 - t2))
    print("  reference: %s" % ref_tokens[:24])
    print("  corvid:    %s" % tokens[:24])
    return verdict.startswith("PASS")


def main():
    pack = sys.argv[1]
    presets = sys.argv[2:] or ["llama-3.2-1b", "llama-3-8b"]
    results = [compare(pack, p) for p in presets]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
