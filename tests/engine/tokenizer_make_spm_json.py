#!/usr/bin/env python3
"""Writes SentencePiece-style tokenizer.json files (as Llama 2 / Mistral ship) built from a
SentencePiece tokenizer.model with Hugging Face `tokenizers`' own API, for the C++ tests of the
Metaspace / byte-fallback / fuse_unk / TemplateProcessing paths:

  legacy/     Prepend+Replace normalizer, no pre-tokenizer, Replace+ByteFallback+Fuse+Strip
              decoder, merges as "a b" strings, TemplateProcessing "<s> $A"
  metaspace/  Metaspace pre-tokenizer (prepend_scheme first), Metaspace+ByteFallback+Fuse
              decoder, merges as ["a", "b"] pairs, and a tokenizer_config.json with add_eos

  tokenizer_make_spm_json.py --model tokenizer.model --out DIR
"""
import argparse
import json
import os

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors


def vocab_and_merges(sp):
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    # A merge for every way to split a piece into two pieces, ranked by the merged piece's
    # score (sentencepiece's BPE merges by score), ties by the parts' ids.
    for piece, pid in vocab.items():
        if sp.is_control(pid) or sp.is_unknown(pid) or sp.is_byte(pid):
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                merges.append((-sp.get_score(pid), vocab[left], vocab[right], left, right))
    merges.sort()
    return vocab, [(l, r) for _, _, _, l, r in merges]


def build(sp, metaspace):
    vocab, merges = vocab_and_merges(sp)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True,
                               byte_fallback=True))
    if metaspace:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first",
                                                     split=False)
        tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581",
                                                            prepend_scheme="first"),
                                         decoders.ByteFallback(), decoders.Fuse()])
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                               normalizers.Replace(" ", "\u2581")])
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = [sp.id_to_piece(i) for i in range(sp.get_piece_size())
                if sp.is_control(i) or sp.is_unknown(i)]
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    bos = sp.id_to_piece(sp.bos_id())
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B",
                                                       special_tokens=[(bos, sp.bos_id())])
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=args.model)
    for name, metaspace in (("legacy", False), ("metaspace", True)):
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "tokenizer.json")
        build(sp, metaspace).save(path)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        merges = data["model"]["merges"]
        # Store one variant in each of the two merge notations tokenizer.json files use.
        data["model"]["merges"] = ([list(m.split(" ", 1)) if isinstance(m, str) else m
                                    for m in merges] if metaspace else
                                   [" ".join(m) if isinstance(m, list) else m for m in merges])
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        if metaspace:
            with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
                json.dump({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
                           "add_eos_token": True}, f)


if __name__ == "__main__":
    main()
