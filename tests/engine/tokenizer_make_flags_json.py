#!/usr/bin/env python3
"""Writes variants of a byte-level tokenizer.json for the C++ reference tests:

  --variant flags  extra added tokens that exercise the AddedToken flags (lstrip, rstrip,
                   single_word, normalized)
  --variant gpt2   GPT-2's pre-tokenizer instead: ByteLevel(add_prefix_space, use_regex)

  tokenizer_make_flags_json.py --base DIR --out DIR [--variant flags|gpt2]
"""
import argparse
import json
import os

EXTRA = [
    # content, single_word, lstrip, rstrip, normalized, special
    ("<lstrip>", False, True, False, False, True),
    ("<rstrip>", False, False, True, False, True),
    ("<both>", False, True, True, False, False),
    ("magic", True, False, False, False, False),
    ("caf\u00e9", False, False, False, True, False),  # matched after NFC
    ("<|im_start|>assistant", False, False, False, False, True),  # longest match wins
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant", default="flags", choices=["flags", "gpt2"])
    args = ap.parse_args()
    with open(os.path.join(args.base, "tokenizer.json"), encoding="utf-8") as f:
        data = json.load(f)
    if args.variant == "gpt2":
        data["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True,
                                 "trim_offsets": True, "use_regex": True}
        EXTRA.clear()
    next_id = max(t["id"] for t in data["added_tokens"]) + 1
    for content, single_word, lstrip, rstrip, normalized, special in EXTRA:
        data["added_tokens"].append({"id": next_id, "content": content,
                                     "single_word": single_word, "lstrip": lstrip,
                                     "rstrip": rstrip, "normalized": normalized,
                                     "special": special})
        next_id += 1
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
