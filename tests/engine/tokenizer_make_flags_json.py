#!/usr/bin/env python3
"""Writes a copy of the Qwen3 tokenizer.json with extra added tokens that exercise the
AddedToken flags (lstrip, rstrip, single_word, normalized), for the C++ reference tests.

  tokenizer_make_flags_json.py --base DIR --out DIR
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
    args = ap.parse_args()
    with open(os.path.join(args.base, "tokenizer.json"), encoding="utf-8") as f:
        data = json.load(f)
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
